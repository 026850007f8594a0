"""Plan files: ``mlspec plan --out FILE`` and ``mlspec apply FILE``.

A plan file is the plan JSON (``docs/plan.md``) plus ``saved``: where it applies and the
artifact files of every resource it changes, so applying it does exactly what it listed even
if the spec changed since. ``.json`` files are plain JSON; any other name is gzip-compressed.

``digest`` is a SHA-256 over the whole document (the state lineage and serial it was made against
included): a plan changed after it was saved — a property, a hash, the serial — is refused before it
is shown or applied. The digest guards against damage and careless edits, not against someone who
recomputes it; the state's lineage/serial check at apply still guards against stale plans.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec.compiler.graph import Address
from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.plan.backends import BACKEND_KINDS
from mlspec.plan.plan import PLAN_FORMAT_VERSION, Action, Plan, plan_error
from mlspec.plan.target import PlanResult, Target
from mlspec.redaction import printable

_GZIP_MAGIC = b"\x1f\x8b"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
MAX_PLAN_BYTES = 512 * 2**20
"""A compressed plan larger than this once inflated is refused (a gzip bomb must not exhaust memory)."""


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
    # The digest is taken over the document as it will be read back, so both sides agree exactly.
    document["digest"] = plan_digest(json.loads(json.dumps(document, ensure_ascii=False)))
    raw = json.dumps(document, indent=1, sort_keys=False, ensure_ascii=False).encode("utf-8")
    out = Path(path)
    out.write_bytes(raw if out.suffix == ".json" else gzip.compress(raw, mtime=0))
    return out


def load_plan(path: Path | str) -> SavedPlan:
    """Read a plan file written by :func:`save_plan` (either form).

    Refused, before anything is printed or applied: a file that is not a plan (MLS000), and a plan
    whose digest does not match its content or whose content is not what mlspec writes (MLS836).
    """
    source = Path(path)
    where = str(source)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise _not_a_plan(where, exc.strerror or str(exc)) from None
    document = _decode(raw, where)
    _verify_digest(document, where)
    try:
        _check_structure(document)
        plan = Plan.from_json(document)
        saved = document["saved"]
        target = Target(
            plan.project,
            plan.environment,
            Path(saved["project_dir"]),
            dict(saved.get("state_backend") or {}),
            plan.provider,
            plan.protect,
            Path(saved["state_dir"]) if saved.get("state_dir") else None,
        )
        files = {
            name: base64.b64decode(data, validate=True)
            for name, data in dict(saved.get("files") or {}).items()
        }
    except _Malformed as exc:
        raise damaged_plan(where, str(exc)) from None
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise damaged_plan(where, f"{type(exc).__name__}: {printable(str(exc), 120)}") from None
    missing = sorted(
        {
            f
            for c in plan.changes
            if c.after is not None and c.action is not Action.NO_OP
            for f in c.after.files
            if f not in files
        }
    )
    if missing:
        raise damaged_plan(where, f"it does not carry the file {printable(missing[0])!r} it deploys")
    return SavedPlan(plan, target, files)


def plan_digest(document: dict[str, Any]) -> str:
    """The digest over a saved plan's whole content except the ``digest`` field itself: key-sorted,
    compact JSON of the document as parsed from the file, so it is the same on every machine."""
    body = {k: v for k, v in document.items() if k != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()


def damaged_plan(where: str, reason: str) -> MlspecError:
    return MlspecError(
        [
            Diagnostic.error(
                "MLS836",
                f"{where} cannot be applied: {reason}",
                (),
                Location(where, 1, 1),
                hint="make the plan again with `mlspec plan --out FILE` and apply that file unchanged",
            )
        ]
    )


class _Malformed(Exception):
    """A saved plan's content is not the shape :func:`save_plan` writes."""


def _not_a_plan(where: str, reason: str = "") -> MlspecError:
    return MlspecError(
        [
            Diagnostic.error(
                "MLS000",
                f"{where} is not a plan file written by `mlspec plan --out`"
                + (f" ({reason})" if reason else ""),
                (),
                Location(where, 1, 1),
            )
        ]
    )


def _decode(raw: bytes, where: str) -> dict[str, Any]:
    if raw[:2] == _GZIP_MAGIC:
        try:
            inflater = zlib.decompressobj(wbits=31)
            raw = inflater.decompress(raw, MAX_PLAN_BYTES)
            if inflater.unconsumed_tail:
                raise _not_a_plan(where, f"larger than {MAX_PLAN_BYTES // 2**20} MiB uncompressed")
            if not inflater.eof:
                raise _not_a_plan(where, "the compressed data is truncated")
        except zlib.error:
            raise _not_a_plan(where, "the compressed data is damaged") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _not_a_plan(where) from None
    if not isinstance(document, dict) or "saved" not in document or "format_version" not in document:
        raise _not_a_plan(where)
    return document


def _verify_digest(document: dict[str, Any], where: str) -> None:
    recorded = document.get("digest")
    if not isinstance(recorded, str):
        raise damaged_plan(where, "it has no digest (it was saved by an older mlspec or edited)")
    try:
        actual = plan_digest(document)
    except (ValueError, RecursionError):
        raise damaged_plan(where, "its content cannot be digested") from None
    if not hmac.compare_digest(recorded, actual):
        raise damaged_plan(where, "its content does not match its digest: it was changed after it was saved")


def _check_structure(document: dict[str, Any]) -> None:
    """Every field :meth:`Plan.from_json` and apply read has the type :func:`save_plan` writes
    (the digest proves the file is unchanged; this keeps a hand-made one from being a traceback)."""
    _expect(document.get("format_version") == PLAN_FORMAT_VERSION, "format_version")
    for key in ("project", "environment", "provider"):
        _expect(isinstance(document.get(key), str), key)
    for key in ("project", "environment"):  # they name the state's folder and file
        _expect(bool(_SAFE_NAME.fullmatch(document[key])), key)
    for key in ("refreshed", "destroy", "protect", "allow_destroy"):
        _expect(isinstance(document.get(key, False), bool), key)
    state: Any = document.get("state")
    _expect(isinstance(state, dict), "state")
    _expect(state.get("lineage") is None or isinstance(state.get("lineage"), str), "state.lineage")
    serial = state.get("serial")
    _expect(isinstance(serial, int) and not isinstance(serial, bool) and 0 <= serial < 2**63, "state.serial")
    _expect(_strings(document.get("select", [])), "select")
    changes: Any = document.get("resource_changes")
    _expect(isinstance(changes, list), "resource_changes")
    for index, change in enumerate(changes):
        _check_change(change, f"resource_changes[{index}]")
    saved = document["saved"]
    _expect(isinstance(saved, dict), "saved")
    project_dir = saved.get("project_dir")
    _expect(
        isinstance(project_dir, str) and "\0" not in project_dir and Path(project_dir).is_absolute(),
        "saved.project_dir",
    )
    state_dir = saved.get("state_dir")
    _expect(state_dir is None or (isinstance(state_dir, str) and "\0" not in state_dir), "saved.state_dir")
    backend: Any = saved.get("state_backend") or {}
    _expect(
        isinstance(backend, dict) and all(isinstance(v, str) for v in backend.values()), "saved.state_backend"
    )
    _expect(backend.get("backend", "local") in BACKEND_KINDS, "saved.state_backend.backend")
    files = saved.get("files") or {}
    _expect(isinstance(files, dict) and all(isinstance(v, str) for v in files.values()), "saved.files")


def _check_change(change: Any, where: str) -> None:
    _expect(isinstance(change, dict), where)
    _expect(_is_address(change.get("address")), f"{where}.address")
    _expect(change.get("action") in {a.value for a in Action}, f"{where}.action")
    _expect(isinstance(change.get("provider_type"), str), f"{where}.provider_type")
    moved = change.get("moved_from")
    _expect(moved is None or _is_address(moved), f"{where}.moved_from")
    _expect(isinstance(change.get("gone", False), bool), f"{where}.gone")
    _expect(_strings(change.get("replace_reasons", [])), f"{where}.replace_reasons")
    for key in ("changes", "drift"):
        items = change.get(key, [])
        _expect(
            isinstance(items, list)
            and all(isinstance(c, dict) and isinstance(c.get("path"), str) for c in items),
            f"{where}.{key}",
        )
    for side in ("before", "after"):
        snapshot = change.get(side)
        if snapshot is None:
            continue
        _expect(isinstance(snapshot, dict), f"{where}.{side}")
        _expect(isinstance(snapshot.get("provider_type"), str), f"{where}.{side}.provider_type")
        _expect(isinstance(snapshot.get("hash", ""), str), f"{where}.{side}.hash")
        attachments = snapshot.get("attachments") or {}
        _expect(
            isinstance(attachments, dict) and all(isinstance(v, str) for v in attachments.values()),
            f"{where}.{side}.attachments",
        )
        depends_on = snapshot.get("depends_on", [])
        _expect(
            isinstance(depends_on, list) and all(_is_address(d) for d in depends_on),
            f"{where}.{side}.depends_on",
        )
        _expect(_strings(snapshot.get("files", [])), f"{where}.{side}.files")
        _expect(isinstance(snapshot.get("spec_fields", {}), dict | None), f"{where}.{side}.spec_fields")
    # apply deploys ``after`` for everything but a delete
    _expect(change.get("action") == Action.DELETE.value or change.get("after") is not None, f"{where}.after")


def _expect(condition: bool, field: str) -> None:
    if not condition:
        raise _Malformed(f"{printable(field, 120)} is missing or has the wrong type")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_address(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        Address.parse(value)
    except ValueError:
        return False
    return True
