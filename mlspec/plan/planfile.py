"""Plan files: ``mlspec plan --out FILE`` and ``mlspec apply FILE``.

A plan file is the plan JSON (``docs/plan.md``) plus ``saved``: where it applies and the
artifact files of every resource it changes, so applying it does exactly what it listed even
if the spec changed since. ``.json`` files are plain JSON; any other name is gzip-compressed.

``digest`` is a SHA-256 over the whole document (the state lineage and serial it was made against
included): a plan changed after it was saved — a property, a hash, the serial — is refused before it
is shown or applied. The digest guards against damage and careless edits, not against someone who
recomputes it; the state's lineage/serial check at apply still guards against stale plans. So the
content is also held to what ``save_plan`` writes: every file path stays inside the build folder, the
project and state folders are absolute and normalised, and the file is read with a bounded read.

``save_plan`` writes only where it cannot destroy anything (:func:`check_plan_out`): never over the
spec, a file the spec names or mlspec's own ``.mlspec/`` folder, never a name ``apply`` would read as a
spec, never through a symlink or into a special file. It writes a temporary file beside the target and
renames it over the target, so a full disk leaves an older plan there as it was.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from mlspec.artifact_paths import BUILD_MARKER, is_build_path
from mlspec.contract.graph import Address
from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.plan.backends import BACKEND_KINDS
from mlspec.plan.lock import pid_alive
from mlspec.plan.plan import PLAN_FORMAT_VERSION, Action, Plan, plan_error
from mlspec.plan.target import PlanResult, Target
from mlspec.project_files import ProjectFileError, read_regular_file
from mlspec.redaction import printable

_GZIP_MAGIC = b"\x1f\x8b"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
MAX_PLAN_BYTES = 128 * 2**20
"""A plan's JSON is at most this large (inflated, for a compressed one): a build's changed artifact
files and their properties take a few MiB; a gzip bomb or a huge hand-made file must not exhaust memory.
``save_plan`` refuses to write a plan that ``load_plan`` would not read back."""
MAX_PLAN_FILE_BYTES = MAX_PLAN_BYTES
"""At most this many bytes are read from a plan file (either form), counting the bytes actually read."""
SPEC_SUFFIXES = (".yaml", ".yml")
"""``mlspec apply FILE`` reads a file with one of these suffixes as a spec, never as a plan."""
_MLSPEC_FOLDER = ".mlspec"
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp")


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

    A path ending in ``.json`` gets plain JSON; any other gets the same JSON gzip-compressed. Raises
    :class:`MlspecError`: MLS840 for a path :func:`check_plan_out` refuses, MLS841 when writing fails
    (a full disk) — an older file at ``path`` is then left as it was.
    """
    out = check_plan_out(result, path)
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
        "project_dir": os.path.abspath(target.project_dir),
        "state_backend": target.state_config,
        "state_dir": os.path.abspath(target.state_dir) if target.state_dir else None,
        "files": {f: base64.b64encode(result.files(f)).decode("ascii") for f in needed},
        "workspace": target.workspace,
        "report_workspaces": target.report_workspaces,
    }
    # The digest is taken over the document as it will be read back, so both sides agree exactly.
    document["digest"] = plan_digest(json.loads(json.dumps(document, ensure_ascii=False)))
    raw = json.dumps(document, indent=1, sort_keys=False, ensure_ascii=False).encode("utf-8")
    if len(raw) > MAX_PLAN_BYTES:
        raise _write_failed(
            out,
            f"the plan is larger than {MAX_PLAN_BYTES // 2**20} MiB, more than `mlspec apply` reads back",
            "plan fewer resources at once (--select), or apply the spec directly",
        )
    _remove_stale_temporaries(out)
    _write_replacing(out, raw if out.suffix == ".json" else gzip.compress(raw, mtime=0))
    return out


def check_plan_out(result: PlanResult, path: Path | str) -> Path:
    """Refuse (MLS840, a usage error) a ``plan --out`` path whose file must not be replaced; returns it.

    Refused: a name ending in ``.yaml``/``.yml`` (``apply`` would read it as a spec), a symlink (it would
    be written through, or the link replaced by surprise), an existing folder, FIFO or device, the spec
    itself, a file the spec names (transform code, training script, seed program) or a path inside one,
    and anything inside the project's ``.mlspec/`` folder or the state folder (state, locks, cache,
    local objects). Paths are compared after resolving symlinks, so another spelling is no way round.
    """
    out = Path(path)
    try:
        status: os.stat_result | None = os.lstat(out)
    except OSError:  # missing (the usual case), or unreachable: writing says why
        status = None
    if status is not None and stat.S_ISLNK(status.st_mode):
        _refuse_out(
            out,
            f"it is a symlink (to {printable(os.readlink(out), 200)}): a plan is never written through a link",
            "remove the link, or pass --out the path of a regular file",
        )
    real_out = os.path.realpath(out)
    target = result.target
    project = os.path.realpath(target.project_dir)
    spec_name = getattr(target, "spec_file", None)
    if spec_name and real_out == os.path.realpath(os.path.join(project, spec_name)):
        _refuse_out(out, f"it is the spec {printable(spec_name, 200)!r}")
    for relative in result.project_files:
        if _within(real_out, os.path.realpath(os.path.join(project, relative))):
            _refuse_out(out, f"it is a file the spec names ({printable(relative, 200)!r})")
    for folder in (os.path.join(project, _MLSPEC_FOLDER), target.state_dir):
        if folder is not None and _within(real_out, os.path.realpath(folder)):
            _refuse_out(
                out, f"it is inside mlspec's own folder {folder} (state, locks, cache, local objects)"
            )
    if out.suffix.lower() in SPEC_SUFFIXES:
        _refuse_out(
            out,
            f"its name ends in {out.suffix}: `mlspec apply` would read it as a spec",
            "name the plan file e.g. plan.bin (gzip-compressed) or plan.json",
        )
    if status is not None and not stat.S_ISREG(status.st_mode):
        _refuse_out(out, f"it is {_file_kind(status.st_mode)}, not a regular file")
    for folder in Path(real_out).parents:
        if folder.name == ".git":
            _refuse_out(out, f"it is inside the git folder {folder}")
        if (folder / BUILD_MARKER).is_file():
            _refuse_out(out, f"it is inside the build folder {folder}, which the next build replaces whole")
    if status is not None and not _holds_a_plan(out):
        _refuse_out(
            out,
            "it is an existing file that is not a saved plan: a plan replaces only an older plan",
            "remove the file first if it may go, or pass --out a new path (e.g. plan.bin)",
        )
    return out


def _holds_a_plan(path: Path) -> bool:
    """Whether ``path`` starts as a saved plan does: gzip data, or a JSON object naming format_version."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.startswith(b"\x1f\x8b") or (head.lstrip().startswith(b"{") and b'"format_version"' in head)


def _write_replacing(out: Path, data: bytes) -> None:
    """Write ``data`` to a new file beside ``out`` and rename it over ``out``: the rename replaces a
    directory entry, never writes through one, and a failure leaves ``out`` as it was."""
    temporary, descriptor = _create_temporary(out)
    try:
        try:
            _write_all(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, out)
    except OSError as exc:
        _unlink_quietly(temporary)
        raise _write_failed(out, exc.strerror or str(exc)) from None
    except BaseException:
        _unlink_quietly(temporary)
        raise


def _create_temporary(out: Path) -> tuple[Path, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        temporary = out.parent / f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            # 0o666 as open(2) gets it: the umask decides the mode, as for any file the user writes
            return temporary, os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _write_failed(out, exc.strerror or str(exc)) from None


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _remove_stale_temporaries(out: Path) -> None:
    """Remove the temporary files a killed ``plan --out`` to the same path left (their writer is gone)."""
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or match["name"] != out.name or pid_alive(int(match["pid"])):
            continue
        if entry.is_file(follow_symlinks=False):
            _unlink_quietly(Path(entry.path))


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _within(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def _refuse_out(out: Path, reason: str, hint: str | None = None) -> NoReturn:
    raise MlspecError(
        [
            Diagnostic.error(
                "MLS840",
                f"will not write the plan to {out}: {reason}",
                (),
                Location(str(out), 1, 1),
                hint or "save the plan to a file of its own, e.g. `--out plan.bin` beside the spec",
            )
        ]
    )


def _write_failed(out: Path, reason: str, hint: str | None = None) -> MlspecError:
    return MlspecError(
        [
            Diagnostic.error(
                "MLS841",
                f"cannot write the plan to {out}: {reason}",
                (),
                Location(str(out), 1, 1),
                hint
                or (
                    "nothing was written (a file already there is unchanged); free space or fix "
                    "permissions, or pass --out another path"
                ),
            )
        ]
    )


def load_plan(path: Path | str) -> SavedPlan:
    """Read a plan file written by :func:`save_plan` (either form).

    Refused, before anything is printed or applied: a file that is not a plan (MLS000), and a plan
    whose digest does not match its content or whose content is not what mlspec writes (MLS836).
    """
    source = Path(path)
    where = str(source)
    try:  # a FIFO, a device or a file beyond the bound is refused before (or while) reading
        raw = read_regular_file(source, limit=MAX_PLAN_FILE_BYTES)
    except ProjectFileError as exc:
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
            workspace=dict(saved.get("workspace") or {}),
            report_workspaces={str(k): str(v) for k, v in dict(saved.get("report_workspaces") or {}).items()},
            provider_types=frozenset(
                side.provider_type for c in plan.changes for side in (c.before, c.after) if side is not None
            ),
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
    try:  # ValueError: malformed JSON, and an integer longer than Python reads (4300 digits)
        document = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
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
    # apply works in these folders as they are written: only the absolute, normalised paths save_plan writes
    _expect_folder(saved.get("project_dir"), "saved.project_dir")
    if saved.get("state_dir") is not None:
        _expect_folder(saved.get("state_dir"), "saved.state_dir")
    backend: Any = saved.get("state_backend") or {}
    _expect(
        isinstance(backend, dict) and all(isinstance(v, str) for v in backend.values()), "saved.state_backend"
    )
    _expect(backend.get("backend", "local") in BACKEND_KINDS, "saved.state_backend.backend")
    files = saved.get("files") or {}
    _expect(isinstance(files, dict) and all(isinstance(v, str) for v in files.values()), "saved.files")
    workspace = saved.get("workspace") or {}
    _expect(isinstance(workspace, dict), "saved.workspace")
    reports = saved.get("report_workspaces") or {}
    _expect(
        isinstance(reports, dict) and all(isinstance(v, str) for v in reports.values()),
        "saved.report_workspaces",
    )
    _expect_build_paths(files, "saved.files")


def _check_change(change: Any, where: str) -> None:
    _expect(isinstance(change, dict), where)
    _expect(_is_address(change.get("address")), f"{where}.address")
    _expect(change.get("action") in {a.value for a in Action}, f"{where}.action")
    _expect(isinstance(change.get("provider_type"), str), f"{where}.provider_type")
    moved = change.get("moved_from")
    _expect(moved is None or _is_address(moved), f"{where}.moved_from")
    _expect(isinstance(change.get("gone", False), bool), f"{where}.gone")
    _expect(_strings(change.get("replace_reasons", [])), f"{where}.replace_reasons")
    for key in ("known_after_apply", "missing_outputs"):
        _expect(_strings(change.get(key, [])), f"{where}.{key}")
    for key in ("changes", "drift", "output_changes"):
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
        _expect_build_paths(attachments, f"{where}.{side}.attachments")
        depends_on = snapshot.get("depends_on", [])
        _expect(
            isinstance(depends_on, list) and all(_is_address(d) for d in depends_on),
            f"{where}.{side}.depends_on",
        )
        _expect(_strings(snapshot.get("files", [])), f"{where}.{side}.files")
        _expect_build_paths(snapshot.get("files", []), f"{where}.{side}.files")
        _expect(isinstance(snapshot.get("spec_fields", {}), dict | None), f"{where}.{side}.spec_fields")
        _expect(_strings(snapshot.get("needs", [])), f"{where}.{side}.needs")
    # apply deploys ``after`` for everything but a delete
    _expect(change.get("action") == Action.DELETE.value or change.get("after") is not None, f"{where}.after")


def _expect(condition: bool, field: str) -> None:
    if not condition:
        raise _Malformed(f"{printable(field, 120)} is missing or has the wrong type")


def _expect_folder(value: Any, field: str) -> None:
    if not (
        isinstance(value, str)
        and "\0" not in value
        and value.startswith("/")
        and os.path.normpath(value) == value
    ):
        raise _Malformed(f"{field} is not an absolute, normalised folder: {printable(repr(value), 120)}")


def _expect_build_paths(paths: Any, field: str) -> None:
    """Every path is one a build writes (the MLS601 rule): relative, normalised, no ``..``, no
    backslash or NUL — apply writes these files into the provider's folders."""
    for path in paths:
        if not is_build_path(path):
            raise _Malformed(
                f"{field} holds a file path that leaves the build folder: {printable(repr(path), 120)}"
            )


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
