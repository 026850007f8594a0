"""Diagnostics: the one shape every check, the loader and the compiler report problems in.

Errors are values until the edge (``cli.py``): library code returns lists of
:class:`Diagnostic` and only the reporters turn them into text, JSON, GitHub annotations
or SARIF.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from mlspec.redaction import redact

SpecPath = tuple[str | int, ...]
"""A path into the spec document: mapping keys and sequence indexes."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a file the user wrote; ``line`` and ``column`` count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: a stable code, what is wrong, where, and how to fix it."""

    code: str
    severity: Severity
    message: str
    path: SpecPath = ()
    location: Location | None = None
    hint: str | None = None
    environments: tuple[str, ...] = ()
    """The environments this finding holds in, when not in every one that was checked (an overlay's)."""
    item_names: tuple[tuple[int, str], ...] = ()
    """Names of the list items on ``path`` (position in the path, the item's name or title)."""

    @classmethod
    def error(
        cls,
        code: str,
        message: str,
        path: SpecPath = (),
        location: Location | None = None,
        hint: str | None = None,
    ) -> Diagnostic:
        return cls(code, Severity.ERROR, message, path, location, hint)

    @classmethod
    def warning(
        cls,
        code: str,
        message: str,
        path: SpecPath = (),
        location: Location | None = None,
        hint: str | None = None,
    ) -> Diagnostic:
        return cls(code, Severity.WARNING, message, path, location, hint)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def environment_note(self) -> str:
        """``in environment prod`` (``in environments dev, prod``), or nothing when it holds everywhere."""
        if not self.environments:
            return ""
        noun = "environment" if len(self.environments) == 1 else "environments"
        return f"in {noun} {', '.join(self.environments)}"

    @property
    def dotted_path(self) -> str:
        return format_path(self.path)

    @property
    def named_path(self) -> str:
        """The path as people read it: list items by name (``reports['churn'].pages['Overview']``)."""
        return format_path(self.path, dict(self.item_names))

    def with_severity(self, severity: Severity) -> Diagnostic:
        return replace(self, severity=severity)

    def in_environments(self, environments: Iterable[str]) -> Diagnostic:
        return replace(self, environments=tuple(environments))

    def redacted(self) -> Diagnostic:
        """This diagnostic as it may be shown: every credential in its text, path and location removed.

        The reporters call it on the way out, so a message that quotes a SAS URL or a token (a state
        backend's address, a mistyped ``--env``) never reaches a terminal, a CI log or a SARIF file.
        """
        location = self.location
        if location is not None:
            location = Location(redact(location.file), location.line, location.column)
        return Diagnostic(
            self.code,
            self.severity,
            redact(self.message),
            tuple(redact(part) if isinstance(part, str) else part for part in self.path),
            location,
            redact(self.hint) if self.hint is not None else None,
            tuple(redact(name) for name in self.environments),
            tuple((position, redact(name)) for position, name in self.item_names),
        )


def format_path(path: SpecPath, names: dict[int, str] | None = None) -> str:
    """``("transforms", "x", "inputs", 1)`` → ``transforms.x.inputs[1]``; with ``names`` (path position →
    the item's name) a named item reads ``reports['churn']``."""
    out: list[str] = []
    for position, part in enumerate(path):
        if isinstance(part, int):
            name = (names or {}).get(position)
            out.append(f"[{name!r}]" if name is not None else f"[{part}]")
        else:
            out.append(f".{part}" if out else part)
    return "".join(out)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str, str]:
    loc = d.location
    return (loc.file if loc else "", loc.line if loc else 0, loc.column if loc else 0, d.code, d.message)


class MlspecError(Exception):
    """Raised where a library call cannot go on; carries the diagnostics that explain why."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("; ".join(d.message for d in diagnostics) or "mlspec error")
