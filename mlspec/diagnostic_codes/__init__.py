"""The registry of diagnostic codes: every ``MLSnnn`` mlspec can report, as data.

One entry per code — its severity, a one-line title, the stage that reports it, what it means and
the anchor of its row in ``docs/diagnostics.md``. The reference page is generated from this registry
(``python -m mlspec.diagnostic_codes --write docs/diagnostics.md``), the SARIF reporter takes its rule
metadata from it, and a test fails for a code that is used in ``mlspec/`` but not registered here.

Codes are stable: a code never changes meaning, and it keeps its number when the check that reports it
moves from one stage to another (the stage here is the family the number belongs to).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from mlspec.diagnostic_codes.build_codes import BUILD_CODES
from mlspec.diagnostic_codes.entries import DOCS_PAGE, STAGES, DiagnosticCode, Stage
from mlspec.diagnostic_codes.plan_codes import PLAN_CODES
from mlspec.diagnostic_codes.spec_codes import SPEC_CODES

__all__ = ["DOCS_PAGE", "REGISTRY", "STAGES", "DiagnosticCode", "Stage", "lookup"]


def _index(entries: Iterable[DiagnosticCode]) -> Mapping[str, DiagnosticCode]:
    registry: dict[str, DiagnosticCode] = {}
    for entry in entries:
        if entry.code in registry:
            raise ValueError(f"{entry.code} is registered twice")
        registry[entry.code] = entry
    return MappingProxyType(dict(sorted(registry.items())))


REGISTRY: Mapping[str, DiagnosticCode] = _index((*SPEC_CODES, *BUILD_CODES, *PLAN_CODES))
"""Every code, in code order."""


def lookup(code: str) -> DiagnosticCode | None:
    """The registry entry of ``code``, or ``None`` for a code mlspec does not define."""
    return REGISTRY.get(code)
