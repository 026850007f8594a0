"""Spec texts for the validator tests: the contract example, one-edit variants, and positions in them.

Tests name the text they expect a diagnostic at (``"Smalll"``) instead of hard-coding a
line and column; :func:`position` turns it into the 1-based ``(line, column)`` the
validator must report, so an edit above the spot does not silently shift expectations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlspec.diagnostics import Diagnostic, Severity

DATA = Path(__file__).parent / "data"
CONTRACT_PATH = DATA / "contract.yaml"
CONTRACT = CONTRACT_PATH.read_text(encoding="utf-8")


def edit(text: str, old: str, new: str) -> str:
    """``text`` with the single occurrence of ``old`` replaced (fails loudly if ``old`` is ambiguous)."""
    count = text.count(old)
    assert count == 1, f"{old!r} occurs {count} times in the spec; make the edit unambiguous"
    return text.replace(old, new)


def contract_with(*edits: tuple[str, str]) -> str:
    """The contract example with each ``(old, new)`` edit applied in order."""
    text = CONTRACT
    for old, new in edits:
        text = edit(text, old, new)
    return text


def position(text: str, needle: str, *, after: str | None = None) -> tuple[int, int]:
    """1-based ``(line, column)`` of ``needle``.

    Without ``after``, ``needle`` must occur exactly once in ``text``; with it, the first
    ``needle`` following the single occurrence of ``after`` is meant.
    """
    start = 0
    if after is not None:
        assert text.count(after) == 1, f"anchor {after!r} occurs {text.count(after)} times"
        start = text.index(after) + len(after)
    index = text.find(needle, start)
    assert index >= 0, f"{needle!r} not found"
    if after is None:
        assert text.find(needle, index + 1) < 0, f"{needle!r} occurs more than once; give after="
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def describe(diagnostics: list[Diagnostic]) -> str:
    return (
        "\n".join(f"  {d.code} {d.severity.value} {d.location} {d.message} | {d.hint}" for d in diagnostics)
        or "  (none)"
    )


@dataclass
class Checked:
    """The diagnostics the validator returned for ``text`` (written to ``file``)."""

    text: str
    file: str
    diagnostics: list[Diagnostic]

    @property
    def codes(self) -> list[str]:
        return sorted(d.code for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    def assert_clean(self) -> None:
        assert self.diagnostics == [], "expected no diagnostics, got:\n" + describe(self.diagnostics)

    def one(
        self,
        code: str,
        message: str,
        at: str,
        *,
        after: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> Diagnostic:
        """The single ``code`` diagnostic containing ``message``, located where ``at`` is written."""
        expected = position(self.text, at, after=after)
        matching = [
            d
            for d in self.diagnostics
            if d.code == code
            and message in d.message
            and d.location is not None
            and (d.location.line, d.location.column) == expected
        ]
        assert len(matching) == 1, (
            f"expected one {code} containing {message!r} at {expected[0]}:{expected[1]} ({at!r}), "
            f"got {len(matching)}; all:\n" + describe(self.diagnostics)
        )
        found = matching[0]
        assert found.severity is severity, f"{code} is a {found.severity.value}, expected {severity.value}"
        assert found.location is not None and found.location.file == self.file
        return found

    def only(
        self,
        code: str,
        message: str,
        at: str,
        *,
        after: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> Diagnostic:
        """Like :meth:`one`, and nothing else was reported."""
        found = self.one(code, message, at, after=after, severity=severity)
        assert len(self.diagnostics) == 1, "expected a single diagnostic; all:\n" + describe(self.diagnostics)
        return found


Validate = Callable[..., Checked]
"""The ``validate`` fixture: ``validate(text, env=None, *, all_environments, variables, environ, strict)``."""
