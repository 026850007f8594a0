"""Which output markers each resource of a build needs, which outputs it reports, and the MLS605 check.

Reads the rendered artifacts (every file a resource ships); updates each :class:`Resource`'s ``needs``
and ``outputs`` (see :mod:`mlspec.contract.outputs` for the marker grammar and the producers). The
check: every needed marker names a resource of this build whose kind reports that attribute (or a
value the deployment target supplies, ``workspace.tenant_id``), and the needing resource depends on
that producer, directly or through others — apply substitutes a value only once its producer ran.

Scanning is a bytes ``find`` of the marker prefix per file: a build of thousands of resources pays
a regex only for the few files that hold a marker.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlspec.compiler.artifacts import ArtifactSet
from mlspec.contract.graph import Address, Resource
from mlspec.contract.outputs import (
    TARGET,
    MarkerError,
    OutputRef,
    has_marker,
    marker_tokens,
    output_kind,
    outputs_of,
    value_tokens,
)
from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.resolve import ResolvedSpec

CODE = "MLS605"


def record_outputs(out: ArtifactSet, resources: Iterable[Resource], spec: ResolvedSpec) -> list[Diagnostic]:
    """Set ``needs`` and ``outputs`` on every resource; return an MLS605 error per need nothing satisfies."""
    listed = list(resources)
    by_address = {r.address: r for r in listed}
    diagnostics: list[Diagnostic] = []
    scanned: dict[str, bool] = {}  # files several resources share (an ARM template's parts) once each
    for resource in listed:
        resource.outputs = list(outputs_of(resource.address))
        tokens = needed_tokens(out, resource, scanned)
        if not tokens:
            resource.needs = []
            continue
        needs: set[str] = set()
        for token in sorted(tokens):
            try:
                ref = OutputRef.parse(token)
            except MarkerError as exc:
                diagnostics.append(_error(spec, resource, f"{exc}", _GRAMMAR_HINT))
                continue
            needs.add(str(ref))
            problem = _unsatisfied(ref, resource, by_address)
            if problem is not None:
                diagnostics.append(_error(spec, resource, f"{ref.marker}: {problem[0]}", problem[1]))
        resource.needs = sorted(needs)
    return diagnostics


def needed_tokens(out: ArtifactSet, resource: Resource, scanned: dict[str, bool] | None = None) -> set[str]:
    """The marker references (unparsed) in the files ``resource`` ships; of a shared primary file
    (``pointer``), only in its own part. ``scanned`` remembers which files hold the prefix at all."""
    seen = {} if scanned is None else scanned

    def holds_marker(path: str) -> bool:
        if path not in seen:
            seen[path] = has_marker(out.artifacts[path].content)
        return seen[path]

    found: set[str] = set()
    primary = out.artifacts[resource.file]
    if holds_marker(resource.file):
        if resource.pointer:
            from mlspec.compiler.build import resolve_pointer

            data = primary.data if primary.data is not None else primary.content.decode("utf-8")
            found |= value_tokens(resolve_pointer(data, resource.pointer))
        else:
            found |= marker_tokens(primary.content)
    for path in resource.files[1:]:
        if holds_marker(path):
            found |= marker_tokens(out.artifacts[path].content)
    return found


_GRAMMAR_HINT = (
    "a marker is mlspec:output:<address>.<attribute> or mlspec:output:workspace.<attribute>; "
    "this is a bug in mlspec's renderer, please report it with the spec"
)


def _unsatisfied(
    ref: OutputRef, consumer: Resource, by_address: dict[Address, Resource]
) -> tuple[str, str] | None:
    """Why nothing of this build satisfies ``ref`` for ``consumer`` (message, hint), or ``None``."""
    if ref.target == TARGET:
        if output_kind(ref) is None:
            return (
                f"the deployment target supplies no {ref.attribute!r}",
                "workspace markers name a value of the environment: workspace.tenant_id",
            )
        return None
    producer = ref.producer
    assert producer is not None
    if producer not in by_address:
        return (
            f"{consumer.address} needs an output of {producer}, which this build does not create",
            f"set the value in the spec instead, or declare what creates {producer}",
        )
    if ref.attribute not in outputs_of(producer):
        reported = ", ".join(outputs_of(producer)) or "no outputs"
        return (
            f"{producer} reports {reported}, not {ref.attribute!r}",
            "a bug in mlspec's renderer: please report it with the spec",
        )
    if producer not in _dependencies_of(consumer, by_address):
        return (
            f"{consumer.address} does not depend on {producer}, so apply could send it before the value exists",
            "a bug in mlspec's renderer (the resource must list its producer in depends_on): please report it",
        )
    return None


def _dependencies_of(resource: Resource, by_address: dict[Address, Resource]) -> set[Address]:
    seen: set[Address] = set()
    stack = list(resource.depends_on)
    while stack:
        address = stack.pop()
        if address in seen:
            continue
        seen.add(address)
        if address in by_address:
            stack.extend(by_address[address].depends_on)
    return seen


def _error(spec: ResolvedSpec, resource: Resource, message: str, hint: str) -> Diagnostic:
    return Diagnostic.error(
        CODE,
        f"{resource.file} ({resource.address}): {message}",
        resource.source,
        spec.locate(resource.source),
        hint,
    )
