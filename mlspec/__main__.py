"""``python -m mlspec``: the same command line as the ``mlspec`` script."""

from mlspec.cli import main

if __name__ == "__main__":
    main()
