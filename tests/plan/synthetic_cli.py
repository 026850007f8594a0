"""``python tests/plan/synthetic_cli.py ARGS``: the real ``mlspec`` command line, building with the
synthetic renderer of ``synthetic.py`` (for subprocess tests: crash, concurrency, saved plans)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ → `plan.synthetic`

from plan.synthetic import install

install()

from mlspec.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
