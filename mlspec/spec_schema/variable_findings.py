"""One bad ``--var`` is one error, not one per use.

A value given from outside the spec (``--var lake_account=Bad!`` or ``MLSPEC_VAR_LAKE_ACCOUNT``) that
breaks every place it is interpolated into would otherwise give as many errors as uses, each pointing
at a line the user did not write wrong. The errors one given variable causes are folded into the
first one, which names the variable and the other places.
"""

from __future__ import annotations

from mlspec.diagnostics import Diagnostic, SpecPath, sort_key
from mlspec.spec_schema.resolve import ResolvedSpec


def fold_given_variable_errors(spec: ResolvedSpec, found: list[Diagnostic]) -> list[Diagnostic]:
    """``found`` with the errors caused by one given variable folded into one (order kept otherwise)."""
    if not spec.given_variables:
        return found
    groups: dict[str, list[Diagnostic]] = {}
    for d in found:
        name = _given_variable_behind(spec, d)
        if name is not None:
            groups.setdefault(name, []).append(d)
    if not groups:
        return found
    replaced: dict[int, Diagnostic | None] = {}
    for name, members in groups.items():
        ordered = sorted(members, key=sort_key)
        first, rest = ordered[0], ordered[1:]
        how = spec.given_variables[name]
        given = f"--var {name}" if how == "--var" else how
        note = f"(the value of {given})"
        if rest:
            lines = sorted({d.location.line for d in rest if d.location is not None})
            where = f" at line{'s' * (len(lines) != 1)} {', '.join(map(str, lines))}" if lines else ""
            note = f"(the value of {given}; it fails {len(rest)} more use{'s' * (len(rest) != 1)}{where} the same way)"
        replaced[id(first)] = Diagnostic(
            first.code, first.severity, f"{first.message} {note}", first.path, first.location, first.hint
        )
        for d in rest:
            replaced[id(d)] = None
    out: list[Diagnostic] = []
    for d in found:
        if id(d) not in replaced:
            out.append(d)
        elif (kept := replaced[id(d)]) is not None:
            out.append(kept)
    return out


def _given_variable_behind(spec: ResolvedSpec, d: Diagnostic) -> str | None:
    """The one given variable that the value at ``d.path`` (or a value containing it) was built from."""
    if not d.is_error or d.code.startswith("MLS5"):  # a security finding is never folded away
        return None
    path: SpecPath = d.path
    while path:
        names = spec.variable_uses.get(path)
        if names:
            given = [n for n in names if n in spec.given_variables]
            return given[0] if len(given) == 1 else None
        path = path[:-1]
    return None
