"""The ``local`` provider: every resource becomes a folder under ``<project>/.mlspec/local/<env>/``.

Notebooks, pipelines, Azure ML components, pipelines and schedules are registered there;
the serving deployment is recorded with the URL local serving will use; alert rules and
reports are stored. ``read`` returns what is on disk, so a hand edit is drift. Every
operation is idempotent: the folder is derived from the address and replaced as a whole.
``create`` adopts an identical object already at the address (left by an interrupted apply) and
refuses a different one, which it leaves untouched.

Outputs are local stand-ins, deterministic so that a retried apply reports the same ones
(:mod:`mlspec.providers.local.outputs`): nothing here is an Azure identity, image or tenant.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlspec.contract.graph import Address
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import Location
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult
from mlspec.providers.local.outputs import observed_outputs, produced_outputs, target_outputs
from mlspec.providers.local.workspace import (
    ObjectFileError,
    object_differences,
    read_object,
    remove_object,
    write_object,
)
from mlspec.redaction import printable

_WHAT_BY_KIND = {
    ("synapse", "notebook"): "Synapse notebook registered",
    ("synapse", "pipeline"): "Synapse pipeline registered",
    ("aml", "component"): "Azure ML component registered",
    ("aml", "pipeline"): "Azure ML pipeline registered",
    ("aml", "schedule"): "Azure ML schedule registered",
    ("aml", "environment"): "Azure ML environment registered",
    ("aml", "compute"): "Azure ML compute recorded",
    ("aml", "monitor"): "Azure ML model monitor stored",
    ("aks", "deployment"): "serving deployment recorded",
    ("powerbi", "report"): "report stored",
}
_WHAT_BY_SERVICE = {
    "synapse": "Synapse artifact registered",
    "aml": "Azure ML asset registered",
    "aks": "Kubernetes object recorded",
    "acr": "image build recorded",
    "monitor": "alert rule stored",
    "access": "access grant recorded",
    "powerbi": "report stored",
}
MAX_DIFFERENCES_SHOWN = 3
"""What a refused create lists of how the object found differs from the request."""
SERVING_PORTS = (18000, 2000)  # placeholder URLs use 127.0.0.1:18000..19999, derived from the address


class ObjectError(ProviderError):
    """An MLS820 located at the object file the provider cannot use."""

    def __init__(self, address: Address, message: str, where: str, hint: str | None = None) -> None:
        super().__init__(address, message, hint)
        self.diagnostics = [dataclasses.replace(d, location=Location(where, 1, 1)) for d in self.diagnostics]


class LocalProvider:
    """Materialises resources in ``<project_dir>/.mlspec/local/<environment>/``."""

    def __init__(self, project_dir: Path, environment: str) -> None:
        self.project_dir = project_dir.resolve()
        self.environment = environment
        self.root = self.project_dir / ".mlspec" / "local" / environment
        self._checked: set[str] = set()
        self._mlspec_dir = os.fspath(self.project_dir / ".mlspec")
        self._looked_through: set[Path] = set()  # parents whose crash leftovers are removed already

    @property
    def name(self) -> str:
        return "local"

    def folder_for(self, address: Address) -> Path:
        folder = self.root / address.service / address.kind / address.name
        self._refuse_linked_folders(address, folder)
        return folder

    def _refuse_linked_folders(self, address: Address, folder: Path | str) -> None:
        """No folder between the project and an object may be a symlink: objects are read, replaced and
        deleted there, and a link (``.mlspec/local/dev/aml`` → elsewhere) would take that outside the
        project. Each folder is looked at once per provider (refresh visits every resource); strings,
        not Paths, since this runs for every resource of a plan."""
        base = self._mlspec_dir
        text = os.fspath(folder)
        if not text.startswith(base + os.sep):
            return  # only .mlspec and the folders inside it are mlspec's to vouch for
        ancestors = [base]
        for part in text[len(base) + 1 :].split(os.sep)[:-1]:
            ancestors.append(ancestors[-1] + os.sep + part)
        for ancestor in ancestors:
            if ancestor in self._checked:
                continue
            if os.path.islink(ancestor):
                raise ProviderError(
                    address,
                    f"{ancestor} is a symlink: the local workspace must stay inside the project",
                    f"remove the link; the next apply recreates what belongs in {self.root}",
                )
            self._checked.add(ancestor)

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        folder = self._resolve(address, current.provider_id)
        try:
            found = read_object(folder)
        except ObjectFileError as exc:
            raise _unreadable(address, folder, exc) from None
        if found is None:
            return None
        meta, on_disk = found.meta, found.files
        primary = str(meta.get("primary", ""))
        recorded = meta.get("files")
        written: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
        attachments = {path: digest for path, digest in on_disk.items() if path != primary}
        if primary and on_disk.get(primary) != written.get(primary):
            # The primary file's content is the properties; an edited copy is drift all the same.
            attachments[primary] = on_disk.get(primary, "deleted")
        # Every file as written (none added, none gone) and the properties untouched: this is the object
        # written for the recorded payload hash, and nothing needs parsing to know it.
        unchanged = found.untouched and on_disk == written and isinstance(meta.get("hash"), str)
        if not unchanged:  # changed behind mlspec's back: read it now (a damaged file is an error here)
            return LiveObject(Payload(_parsed(address, folder, found.properties), attachments))
        return LiveObject.unread(
            attachments, str(meta["hash"]), lambda: _parsed(address, folder, found.properties)
        )

    def create(self, request: DeployRequest) -> ProviderResult:
        folder = self.folder_for(request.address)
        self._refuse_a_different_object(folder, request)
        return self._write(folder, request)

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        return self._write(self._resolve(request.address, current.provider_id), request)

    def delete(self, address: Address, current: ResourceState) -> None:
        remove_object(self._resolve(address, current.provider_id), self._looked_through)

    def _refuse_a_different_object(self, folder: Path, request: DeployRequest) -> None:
        """Create is called for an address the state does not record: what is already there was left
        by an interrupted apply of this very request (adopted: the write that follows rewrites it the
        same), or is something mlspec does not own here (refused, untouched), as Terraform's "already
        exists". Apply holds the state lock, so no other apply writes this folder meanwhile."""
        try:
            differences = object_differences(
                folder,
                provider_type=request.provider_type,
                properties=request.payload.properties,
                files=request.files,
            )
        except ObjectFileError as exc:
            raise _unreadable(request.address, folder, exc) from None
        if not differences:  # None: nothing there; []: the same object
            return
        shown = "; ".join(printable(difference) for difference in differences[:MAX_DIFFERENCES_SHOWN])
        if len(differences) > MAX_DIFFERENCES_SHOWN:
            shown += f"; and {len(differences) - MAX_DIFFERENCES_SHOWN} more"
        raise ProviderError(
            request.address,
            f"another object already exists at {self._provider_id(folder)} ({shown}); "
            "creating this one would overwrite it",
            f"mlspec has no `import`. To replace it with this build, delete the folder {folder} and apply "
            "again; to keep it, apply the spec that made it (an identical object is adopted) or restore "
            "the state that recorded it (`mlspec state list` shows what the state holds)",
        )

    def describe(self, address: Address, result: ProviderResult) -> str:
        what = _WHAT_BY_KIND.get((address.service, address.kind)) or _WHAT_BY_SERVICE.get(
            address.service, "stored"
        )
        url = result.outputs.get("url")
        return f"{what} at {result.provider_id}" + (f", serving URL {url}" if url else "")

    def _write(self, folder: Path, request: DeployRequest) -> ProviderResult:
        meta = {
            "address": str(request.address),
            "provider_type": request.provider_type,
            "hash": request.payload.hash,
            "primary": request.primary_file,
        }
        try:
            write_object(
                folder,
                meta=meta,
                properties=request.payload.properties,
                files=request.files,
                looked_through=self._looked_through,
            )
        except ObjectFileError as exc:
            raise ProviderError(
                request.address,
                f"refusing to write the file {printable(exc.path)!r} into {folder}: {exc.reason}",
                "the plan or its files were edited; make the plan again with `mlspec plan`",
            ) from None
        except OSError as exc:
            raise ProviderError(request.address, f"cannot write {folder}: {exc.strerror or exc}") from None
        return ProviderResult(self._provider_id(folder), self._outputs(request, folder))

    def target_outputs(self) -> dict[str, str]:
        return target_outputs(self.environment)

    def check_sources(self, sources: Mapping[str, str]) -> dict[str, str]:
        """None missing: the local run reads its own lake folder (``mlspec run --lake``), seeded by the
        run itself, not the Azure paths the spec names."""
        return {}

    def observe_outputs(self, address: Address, current: ResourceState) -> dict[str, str]:
        """The outputs of ``current`` that change outside apply (:attr:`OutputKind.observed`), read now."""
        return observed_outputs(address, self.project_dir)

    def _outputs(self, request: DeployRequest, folder: Path) -> dict[str, Any]:
        address = request.address
        outputs: dict[str, Any] = {"path": str(folder)}
        outputs.update(produced_outputs(request, self.project_dir, self.environment))
        if (address.service, address.kind) == ("aks", "deployment"):
            base, span = SERVING_PORTS
            port = base + int(hashlib.sha256(str(address).encode()).hexdigest(), 16) % span
            outputs["url"] = f"http://127.0.0.1:{port}"
        return outputs

    def _provider_id(self, folder: Path) -> str:
        return folder.relative_to(self.project_dir).as_posix()

    def _resolve(self, address: Address, provider_id: str) -> Path:
        if not provider_id:
            return self.folder_for(address)
        # normpath, not resolve(): this runs for every resource on every refresh and must stay cheap.
        folder = os.path.normpath(os.path.join(self.project_dir, provider_id))
        root = str(self.root)
        if not folder.startswith(root + os.sep):
            raise ProviderError(
                address,
                f"provider id {provider_id!r} is outside the local workspace {self.root}",
                "the state file was edited by hand or belongs to another environment",
            )
        self._refuse_linked_folders(address, folder)
        return Path(folder)


def _unreadable(address: Address, folder: Path, exc: ObjectFileError) -> ObjectError:
    return ObjectError(
        address,
        f"cannot read {exc.path}: {exc.reason}",
        exc.path,
        f"the local provider's objects are its own files; delete the folder {folder} and the next apply "
        "creates the object again",
    )


def _parsed(address: Address, folder: Path, read: Callable[[], Any]) -> Any:
    """The properties of the object in ``folder``; a file Python cannot hold is the provider's error."""
    try:
        return read()
    except ObjectFileError as exc:
        raise _unreadable(address, folder, exc) from None
