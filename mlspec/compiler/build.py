"""``mlspec build``: run every renderer over a resolved spec, check the result, write it with its manifest.

Phases: render (every service of :data:`~mlspec.compiler.services.SERVICES`, each writing
its own folder) → mlspec's own cross-artifact checks → output markers (what each resource needs and
reports, :mod:`mlspec.compiler.outputs`) → manifest (the resource graph with
each resource's payload and content hash) → write (the output folder is replaced as a whole, so no stale file
survives a rename).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mlspec.artifact_paths import BUILD_MARKER, ArtifactError
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.outputs import record_outputs
from mlspec.compiler.serialize import to_json
from mlspec.contract.graph import Address, Manifest, Resource, content_hash, topological_order
from mlspec.contract.payload import payload_hash
from mlspec.diagnostics import Diagnostic, Location, MlspecError, has_errors
from mlspec.spec_schema.models import MLProject
from mlspec.spec_schema.resolve import LOCAL_ENVIRONMENT, ResolvedSpec

if TYPE_CHECKING:
    from mlspec.compiler.services import Service

MANIFEST_FILE = "manifest.json"


@dataclass
class BuildResult:
    artifacts: ArtifactSet
    manifest: Manifest
    diagnostics: list[Diagnostic] = field(default_factory=list)
    inputs: dict[str, bytes | None] = field(default_factory=dict)
    """Project files the renderers read, besides the spec (for the build cache)."""
    spec_file: str | None = None
    """The spec built (``<string>`` for text): its folder is the project a build must never overwrite."""
    project_files: tuple[str, ...] = ()
    """Files the spec names (code, training script, seed program), relative to the spec's folder."""
    spec_data: dict[str, Any] | None = None
    """The resolved spec the build was made from (plan names the spec fields behind a change)."""

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def compile_spec(
    spec: ResolvedSpec, model: MLProject, *, render_order: Sequence[Service] | None = None
) -> BuildResult:
    """Render every artifact in memory. Raises :class:`MlspecError` with spec-located diagnostics.

    Every service of the registry renders, in ``render_order`` when given (its services, any order):
    the artifacts and the manifest do not depend on it, only the order of render diagnostics does.
    """
    from mlspec.compiler.consistency import check_artifacts
    from mlspec.compiler.services import SERVICES

    ctx = RenderContext(model, spec, services=SERVICES)
    out = ArtifactSet()
    order = SERVICES if render_order is None else tuple(render_order)
    if sorted(s.name for s in order) != sorted(s.name for s in SERVICES):
        raise ValueError("render_order must hold every service of the registry once")
    try:
        for service in order:
            service.render(ctx, out)
    except ArtifactError as exc:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS601",
                    f"cannot write artifact: {exc}",
                    (),
                    spec.locate(()),
                    "names in the spec must not contain path separators or '..'",
                )
            ]
        ) from None
    diagnostics = [*out.diagnostics, *check_artifacts(ctx, out)]
    if has_errors(diagnostics):
        raise MlspecError(diagnostics)
    try:
        ordered = topological_order(out.resources)
    except ValueError as exc:  # a compiler bug, never user input: say so plainly
        raise MlspecError(
            [Diagnostic.error("MLS699", f"internal error: {exc}", (), spec.locate(()))]
        ) from None
    # Which output markers each resource needs and which outputs it reports (MLS605 when unsatisfiable).
    marker_problems = record_outputs(out, ordered, spec)
    if marker_problems:
        raise MlspecError([*diagnostics, *marker_problems])
    env = model.environments.get(spec.environment)
    manifest = Manifest(
        project=model.project.name,
        environment=spec.environment,
        spec_file=os.path.basename(spec.file),
        resources=ordered,
        workspace=model.workspace.model_dump(exclude_none=True),
        provider="local" if env is None or spec.environment == LOCAL_ENVIRONMENT else env.provider,
        protect=bool(env and env.protect),
        # What plan uses as is: the embedded local environment keeps its state in a local file beside the
        # workspace it describes whatever the spec's backend (a team's blob is for real environments).
        state=(
            {"backend": "local"}
            if spec.environment == LOCAL_ENVIRONMENT
            else model.state.model_dump(exclude_none=True)
        ),
        moved=[(Address.parse(m.from_), Address.parse(m.to)) for m in model.moved],
        sources={name: source.path for name, source in model.sources.items()},
        report_workspaces=_report_workspaces(model, ordered),
    )
    for resource in ordered:
        body = payload(out, resource)
        manifest.hashes[resource.address] = payload_hash(
            resource.provider_type, body["properties"], body["attachments"]
        )
    spec_file = spec.file if spec.file != "<string>" else None
    return BuildResult(out, manifest, diagnostics, dict(ctx.inputs), spec_file, _named_files(model))


def _report_workspaces(model: MLProject, resources: Sequence[Resource]) -> dict[str, str]:
    """The Power BI workspace of each report resource (by address), from the report it was made of."""
    found: dict[str, str] = {}
    for resource in resources:
        source = resource.source
        if resource.provider_type == "powerbi:pbip" and len(source) >= 2 and source[0] == "reports":
            index = source[1]
            if isinstance(index, int) and index < len(model.reports):
                found[str(resource.address)] = model.reports[index].workspace
    return found


def _named_files(model: MLProject) -> tuple[str, ...]:
    named = [t.python for t in model.transforms.values() if t.python is not None]
    if model.model is not None and model.model.training.script is not None:
        named.append(model.model.training.script)
    if model.run.seed is not None:
        named.append(model.run.seed)
    return tuple(named)


def payload(out: ArtifactSet, resource: Resource) -> dict[str, Any]:
    """What the provider deploys for ``resource``: the primary artifact's data (its pointer part)
    and a content hash of every further file it ships (code, Dockerfile, report files)."""
    primary = out.artifacts[resource.file]
    data: Any = primary.data if primary.data is not None else primary.content.decode("utf-8")
    if resource.pointer:
        data = resolve_pointer(data, resource.pointer)
    attachments = {f: content_hash([out.artifacts[f].content]) for f in resource.files[1:]}
    return {"properties": data, "attachments": attachments}


def resolve_pointer(data: Any, pointer: str) -> Any:
    """RFC 6901 JSON pointer lookup."""
    for raw in pointer.lstrip("/").split("/") if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        data = data[int(token)] if isinstance(data, list) else data[token]
    return data


def manifest_document(result: BuildResult) -> dict[str, Any]:
    document = result.manifest.to_json()
    by_address = {str(r.address): r for r in result.manifest.resources}
    for entry in document["resources"]:
        entry["payload"] = payload(result.artifacts, by_address[entry["address"]])
    return document


def write_build(result: BuildResult, out_dir: Path) -> list[Path]:
    """Replace ``out_dir`` with the build's files and ``manifest.json``; returns the written paths.

    The new tree is written beside the old one and swapped in, so an interrupted build never
    leaves half of each. Only a folder mlspec owns is replaced (see :func:`check_output_folder`);
    staging folders a killed build left beside it are removed first. Raises :class:`MlspecError`:
    MLS602 for a folder mlspec must not replace, MLS603 when writing fails (a full disk): the
    previous build is then left as it was.
    """
    out = Path(os.path.abspath(out_dir))  # absolute, but symlinks kept: they are checked, not followed
    check_output_folder(result, out)
    remove_stale_staging(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = _make_staging_folder(out)
    except OSError as exc:
        raise _write_failed(out, exc) from None
    written: list[Path] = []
    try:
        _write_new_file(os.path.join(staging, BUILD_MARKER), _MARKER_TEXT)
        written.append(out / BUILD_MARKER)
        made = {os.fspath(staging)}
        for artifact in sorted(result.artifacts.artifacts.values(), key=lambda a: a.path):
            target = os.path.join(staging, artifact.path)
            folder = os.path.dirname(target)
            if folder not in made:  # each folder once: a thousand notebooks share one
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            _write_new_file(target, artifact.content)
            written.append(out / artifact.path)
        _write_new_file(os.path.join(staging, MANIFEST_FILE), to_json(manifest_document(result)))
        written.append(out / MANIFEST_FILE)
        _swap_in(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _write_failed(out, exc) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def _write_new_file(path: str, content: bytes) -> None:
    """``content`` into a new file of the staging folder: a bare open, write and close (``Path.write_bytes``
    adds a buffered reader's fstat, ioctl and lseek, and this disk's system calls are what a build of
    thousands of files waits on)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(descriptor, view) :]
    finally:
        os.close(descriptor)


_MARKER_TEXT = b"Written by `mlspec build`: the next build replaces this whole folder.\n"
_STAGING, _RETIRED = ".staging", ".retired"


def _make_staging_folder(out: Path) -> Path:
    """A new, uniquely named folder beside ``out``. Created with mode 0o777 as mkdir(2) takes it, so the
    umask decides, as for the files in it (``mkdtemp`` would make the build folder 0700)."""
    while True:
        staging = out.parent / f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}{_STAGING}"
        try:
            os.mkdir(staging, 0o777)
        except FileExistsError:
            continue
        return staging


def _swap_in(staging: Path, out: Path) -> None:
    """Put ``staging`` at ``out``; the old build is renamed aside first and removed last."""
    if not os.path.lexists(out):
        os.rename(staging, out)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}-", suffix=_RETIRED, dir=out.parent))
    os.rmdir(retired)  # only its unique name is wanted: rename needs the target gone
    os.rename(out, retired)  # rename moves a link itself, never what it points at
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(retired, out)
        raise
    shutil.rmtree(retired, ignore_errors=True)  # left over on failure: the next build removes it


def check_output_folder(result: BuildResult, out: Path) -> None:
    """Refuse (MLS602) an output folder mlspec does not own.

    Refused: a symlink (replacing it would be done to whatever it points at), a folder inside the
    project that a symlink leads out of it, a folder that is, contains or is inside the project's
    spec or code, a file, and a non-empty folder mlspec did not write (see :func:`_owned`).
    """
    if os.path.islink(out):
        _refuse(
            out, f"it is a symlink (to {os.readlink(out)})", "remove the link, or pass --out a real folder"
        )
    real_out = os.path.realpath(out)
    if result.spec_file:
        project = os.path.abspath(os.path.dirname(result.spec_file))
        real_project = os.path.realpath(project)
        if _within(os.path.abspath(out), project) and not _within(real_out, real_project):
            _refuse(
                out,
                f"it leads outside the project through a symlink (to {real_out})",
                "make build/ a real folder of the project, or pass --out a folder outside it",
            )
        if _within(real_project, real_out):
            _refuse(out, f"it is or contains the project folder {project}")
        for relative in result.project_files:
            code = os.path.realpath(os.path.join(real_project, relative))
            if _within(code, real_out) or _within(real_out, code):
                _refuse(out, f"it is, contains or is inside the project file {relative!r}")
    if not os.path.lexists(out):
        return
    if not os.path.isdir(out):
        _refuse(out, "it is a file, not a folder")
    if not _owned(out) and any(os.scandir(out)):
        older = os.path.lexists(out / MANIFEST_FILE)
        _refuse(
            out,
            f"it is not empty and mlspec did not create it (it has no {BUILD_MARKER} written by mlspec)",
            f"give a new or empty folder; mlspec replaces only folders marked with {BUILD_MARKER}"
            + (
                f". If it is a build of an older mlspec (which wrote no marker), delete it once: rm -r {out}"
                if older
                else ""
            ),
        )


def _owned(folder: Path) -> bool:
    """Whether ``folder`` is a build mlspec wrote: it carries :data:`BUILD_MARKER` as mlspec writes it —
    a regular file (not a symlink to some build's marker) holding exactly :data:`_MARKER_TEXT`.
    Nothing else counts: a ``manifest.json`` looks the same in any folder someone copied one into."""
    marker = folder / BUILD_MARKER
    try:
        status = os.lstat(marker)
        if not stat.S_ISREG(status.st_mode) or status.st_size != len(_MARKER_TEXT):
            return False
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(marker, flags)
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                return False
            return os.read(descriptor, len(_MARKER_TEXT) + 1) == _MARKER_TEXT
        finally:
            os.close(descriptor)
    except OSError:
        return False


def remove_stale_staging(out: Path) -> None:
    """Remove the staging and retired folders of builds into ``out`` that were killed.

    Their names carry the writing process's id; one whose process still runs is a concurrent build
    and is left alone. Only folders that are empty or carry :data:`BUILD_MARKER` are touched.
    """
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(\d+)-[A-Za-z0-9_]+({_STAGING}|{_RETIRED})")
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False) or _process_alive(int(match[1])):
            continue
        folder = Path(entry.path)
        if _owned(folder) or not any(os.scandir(folder)) or _killed_while_marking(folder, match[2]):
            shutil.rmtree(folder, ignore_errors=True)


def _killed_while_marking(folder: Path, suffix: str) -> bool:
    """A staging folder holding only the start of its marker: the build was killed writing the first
    file of its tree (the marker goes in first), so there is nothing else in it to keep."""
    if suffix != _STAGING:
        return False
    try:
        with os.scandir(folder) as entries:
            (entry,) = list(entries)
        if entry.name != BUILD_MARKER or not entry.is_file(follow_symlinks=False):
            return False
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(entry.path, flags)
        try:
            return _MARKER_TEXT.startswith(os.read(descriptor, len(_MARKER_TEXT) + 1))
        finally:
            os.close(descriptor)
    except (OSError, ValueError):  # not exactly one entry, or it cannot be read: leave it
        return False


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or not a pid at all: leave it
        return True
    return True


def _within(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _refuse(out: Path, reason: str, hint: str | None = None) -> NoReturn:
    raise MlspecError(
        [
            Diagnostic.error(
                "MLS602",
                f"will not build into {out}: {reason}",
                (),
                Location(str(out), 1, 1),
                hint or "build into a folder of its own, e.g. build/<env>/ beside the spec (the default)",
            )
        ]
    )


def _write_failed(out: Path, error: OSError) -> MlspecError:
    kept = "the previous build there is unchanged" if os.path.isdir(out) else "nothing was written"
    return MlspecError(
        [
            Diagnostic.error(
                "MLS603",
                f"cannot write the build into {out}: {error.strerror or error}",
                (),
                Location(str(out), 1, 1),
                f"{kept}; free space (or fix permissions) and build again",
            )
        ]
    )


def read_manifest(build_dir: Path) -> tuple[Manifest, dict[str, dict[str, Any]]]:
    """The manifest of a build folder and each resource's payload by address."""
    data = json.loads((build_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest = Manifest.from_json(data)
    payloads = {entry["address"]: entry.get("payload", {}) for entry in data["resources"]}
    return manifest, payloads
