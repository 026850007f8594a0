"""Plan files: ``mlspec plan --out FILE`` and ``mlspec apply FILE``.

A plan file is the plan JSON (``docs/plan.md``) plus ``saved``: where it applies and the
artifact files of every resource it changes, so applying it does exactly what it listed even
if the spec changed since. ``.json`` files are plain JSON; any other name is gzip-compressed.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.plan.plan import Action, Plan, plan_error
from mlspec.plan.target import PlanResult, Target

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class SavedPlan:
    """A plan read from a file, with where it applies and the artifact files it deploys."""

    plan: Plan
    target: Target
    files: dict[str, bytes]

    def file(self, path: str) -> bytes:
        try:
            return self.files[path]
        except KeyError:
            raise plan_error(f"the saved plan does not carry the file {path!r}") from None


def save_plan(result: PlanResult, path: Path | str) -> Path:
    """Write the plan with everything applying it needs (the artifact files of what it changes).

    A path ending in ``.json`` gets plain JSON; any other gets the same JSON gzip-compressed.
    """
    plan, target = result.plan, result.target
    needed = sorted(
        {
            f
            for c in plan.changes
            if c.after is not None and c.action is not Action.NO_OP
            for f in c.after.files
        }
    )
    document = plan.to_json()
    document["saved"] = {
        "project_dir": str(target.project_dir),
        "state_backend": target.state_config,
        "state_dir": str(target.state_dir) if target.state_dir else None,
        "files": {f: base64.b64encode(result.files(f)).decode("ascii") for f in needed},
    }
    raw = json.dumps(document, indent=1, sort_keys=False, ensure_ascii=False).encode("utf-8")
    out = Path(path)
    out.write_bytes(raw if out.suffix == ".json" else gzip.compress(raw, mtime=0))
    return out


def load_plan(path: Path | str) -> SavedPlan:
    """Read a plan file written by :func:`save_plan` (either form)."""
    source = Path(path)
    raw = source.read_bytes()
    try:
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
        document = json.loads(raw.decode("utf-8"))
        saved = document["saved"]
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS000",
                    f"{source} is not a plan file written by `mlspec plan --out`",
                    (),
                    Location(str(source), 1, 1),
                )
            ]
        ) from None
    plan = Plan.from_json(document)
    target = Target(
        plan.project,
        plan.environment,
        Path(saved["project_dir"]),
        dict(saved.get("state_backend") or {}),
        plan.provider,
        plan.protect,
        Path(saved["state_dir"]) if saved.get("state_dir") else None,
    )
    files = {name: base64.b64decode(data) for name, data in dict(saved.get("files") or {}).items()}
    return SavedPlan(plan, target, files)
