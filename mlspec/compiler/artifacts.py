"""The set of files and resources a build produces, and what a renderer sees of the spec."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlspec.artifact_paths import ArtifactError, safe_relative_path
from mlspec.compiler.serialize import to_json, to_yaml, to_yaml_documents
from mlspec.contract.graph import Address, Resource
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.project_files import read_project_file
from mlspec.spec_schema.models import MLProject
from mlspec.spec_schema.resolve import ResolvedSpec

if TYPE_CHECKING:
    from mlspec.compiler.services import Service


def _registry() -> tuple[Service, ...]:
    from mlspec.compiler.services import SERVICES  # the registry imports every renderer, which import this

    return SERVICES


@dataclass
class RenderContext:
    """What a renderer knows: the validated model, where each value was written, the environment."""

    model: MLProject
    spec: ResolvedSpec
    inputs: dict[str, bytes | None] = field(default_factory=dict)
    """Project files the renderers read (``None``: missing), so a build cache can tell it is stale."""
    services: tuple[Service, ...] = field(default_factory=_registry)
    """The service registry the build renders (:data:`mlspec.compiler.services.SERVICES`)."""
    _provided: frozenset[Address] | None = field(default=None, init=False, repr=False)
    _collecting: bool = field(default=False, init=False, repr=False)

    def will_produce(self, address: Address) -> bool:
        """Whether the build renders ``address``: the answer to every question a service has about
        another's resources, computed from the spec (each service's ``provides``), never from what
        has rendered so far, so the order services render in cannot change the output."""
        if self._provided is None:
            if self._collecting:
                raise RuntimeError("a service's provides() asked will_produce(): it must read the spec alone")
            self._collecting = True
            try:
                self._provided = frozenset(a for s in self.services for a in s.provides(self))
            finally:
                self._collecting = False
        return address in self._provided

    def read_project_file(self, relative: str) -> str:
        """A project file's UTF-8 text. Renderers read project files only through here.

        Raises :class:`~mlspec.project_files.ProjectFileError` (an ``OSError``) for a file outside the
        project (symlinks included), one that is not a regular file or is too large, or a missing one.
        """
        try:
            content = read_project_file(self.project_dir, relative)
        except OSError:
            self.inputs[relative] = None
            raise
        self.inputs[relative] = content
        return content.decode("utf-8")

    @property
    def environment(self) -> str:
        return self.spec.environment

    @property
    def project(self) -> str:
        return self.model.project.name

    @property
    def location(self) -> str:
        """The Azure region; validation requires it whenever there is anything to render."""
        location = self.model.workspace.location
        if location is None:
            raise ArtifactError("workspace.location is not set")
        return location

    @property
    def project_dir(self) -> Path:
        return Path(self.spec.file).parent

    def error(self, code: str, message: str, path: SpecPath, hint: str | None = None) -> Diagnostic:
        """An error at the spec's own line: build errors never point at a generated file."""
        return Diagnostic.error(code, message, path, self.spec.locate(path), hint)


@dataclass
class Artifact:
    path: str
    content: bytes
    data: Any = None  # the structured value the bytes were serialised from, if any


@dataclass
class ArtifactSet:
    """Files (relative POSIX paths → bytes) and the resources that deploy them."""

    artifacts: dict[str, Artifact] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _addresses: set[Address] = field(default_factory=set, init=False, repr=False)
    """The addresses of ``resources``: a duplicate is found without scanning them (builds of thousands)."""

    def add_json(self, path: str, data: Any, *, sort_keys: bool = True) -> str:
        return self._add(path, to_json(data, sort_keys=sort_keys), data)

    def add_yaml(self, path: str, data: Any) -> str:
        return self._add(path, to_yaml(data), data)

    def add_yaml_documents(self, path: str, documents: list[Any]) -> str:
        return self._add(path, to_yaml_documents(documents), documents)

    def add_text(self, path: str, text: str) -> str:
        if not text.endswith("\n"):
            text += "\n"
        return self._add(path, text.encode("utf-8"), None)

    def add_resource(self, resource: Resource) -> Resource:
        for f in resource.files:
            if f not in self.artifacts:
                raise ArtifactError(f"resource {resource.address} names unknown file {f!r}")
        if resource.address in self._addresses:
            raise ArtifactError(f"duplicate resource address {resource.address}")
        self._addresses.add(resource.address)
        self.resources.append(resource)
        return resource

    def _add(self, path: str, content: bytes, data: Any) -> str:
        normal = safe_relative_path(path)
        if normal in self.artifacts:
            raise ArtifactError(f"two artifacts would be written to {normal!r}")
        self.artifacts[normal] = Artifact(normal, content, data)
        return normal
