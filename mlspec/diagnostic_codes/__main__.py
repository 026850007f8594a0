"""``python -m mlspec.diagnostic_codes [--write FILE | --check FILE]``: the reference page of the codes.

Without an option the page goes to stdout; ``--write`` (re)writes the file, ``--check`` exits 1 when
the file is not what the registry gives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlspec.diagnostic_codes import REGISTRY
from mlspec.diagnostic_codes.markdown import REGENERATE, render_reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlspec.diagnostic_codes", description=__doc__)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", type=Path, metavar="FILE", help="write the page to FILE")
    action.add_argument("--check", type=Path, metavar="FILE", help="exit 1 if FILE is not up to date")
    args = parser.parse_args(argv)
    page = render_reference(REGISTRY)
    if args.write is not None:
        args.write.write_text(page, encoding="utf-8")
    elif args.check is not None:
        current = args.check.read_text(encoding="utf-8") if args.check.is_file() else ""
        if current != page:
            print(f"{args.check} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
