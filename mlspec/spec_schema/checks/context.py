"""What a check sees: the resolved spec, its validated model, and a way to report at a location."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlspec.diagnostics import Diagnostic, Severity, SpecPath
from mlspec.spec_schema.models import MLProject
from mlspec.spec_schema.resolve import ResolvedSpec


@dataclass
class CheckContext:
    spec: ResolvedSpec
    model: MLProject
    found: list[Diagnostic] = field(default_factory=list)

    @property
    def environment(self) -> str:
        return self.spec.environment

    def error(
        self, code: str, message: str, path: SpecPath, hint: str | None = None, *, at_key: bool = False
    ) -> Diagnostic:
        return Diagnostic(code, Severity.ERROR, message, path, self.spec.locate(path, at_key=at_key), hint)

    def warning(
        self, code: str, message: str, path: SpecPath, hint: str | None = None, *, at_key: bool = False
    ) -> Diagnostic:
        return Diagnostic(code, Severity.WARNING, message, path, self.spec.locate(path, at_key=at_key), hint)

    def source_error(
        self, code: str, message: str, path: SpecPath, hint: str | None = None, *, at_key: bool = False
    ) -> Diagnostic:
        """An error at a path of the source document itself (e.g. inside ``environments``)."""
        location = self.spec.document.locate(path, at_key=at_key)
        return Diagnostic(code, Severity.ERROR, message, path, location, hint)

    def source_warning(
        self, code: str, message: str, path: SpecPath, hint: str | None = None, *, at_key: bool = False
    ) -> Diagnostic:
        location = self.spec.document.locate(path, at_key=at_key)
        return Diagnostic(code, Severity.WARNING, message, path, location, hint)
