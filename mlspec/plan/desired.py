"""The desired side of a plan: a build's resources with their payloads and the files they ship.

Made from a manifest and its resources' payloads (:func:`desired_from_parts`): by
:mod:`mlspec.api.deploy` from a build in memory (nothing is written to ``build/``), by tests from
synthetic manifests.

Each resource also carries its *spec fields*: the resolved spec values under the spec path it
was built from (its manifest ``source``), flattened to ``dotted.path: value``. Apply records
them in state, so the next plan can say which spec fields caused a change to generated code
(``model.training.params.max_depth: 3 → 5``) instead of only a changed file hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlspec.contract.graph import Address, Manifest, Resource
from mlspec.contract.payload import PROPERTIES_LOADER, Payload, payload_hash
from mlspec.diagnostics import SpecPath, format_path
from mlspec.redaction import redact

FileSource = Callable[[str], bytes]
"""Returns the bytes of a build-relative artifact path."""

SPEC_FIELDS_KEY = "spec_fields"
"""The optional key of a payload mapping given to :func:`desired_from_parts` (and of a build cache
entry's payload) that holds the resource's spec fields; it is not part of the payload or its hash."""
SPEC_FIELD_LIMIT = 300
SPEC_FIELDS_BYTES = 8 * 1024
"""At most this many fields, and this many bytes of JSON, are recorded per resource: a resource built
from a whole section (a pipeline over every transform) records its bigger parts as digests instead."""
SPEC_VALUE_CHARS = 512
"""A longer string (a SQL query) is recorded as its start, its length and a digest."""
_SUBTREE_FIELDS = 40
_SUBTREE_BYTES = 1024


@dataclass
class DesiredResource:
    """What the build says one resource should be."""

    address: Address
    provider_type: str
    payload: Payload
    depends_on: list[Address] = field(default_factory=list)
    immutable: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    source: str = ""
    """The spec path the resource is built from (dotted), e.g. ``model.training``."""
    spec_fields: dict[str, Any] | None = None
    """The resolved spec values under ``source`` (see :func:`spec_fields`); ``None`` when unknown."""
    needs: list[str] = field(default_factory=list)
    """The output markers its payload holds (``<target>.<attribute>``), replaced at apply."""
    outputs: list[str] = field(default_factory=list)
    """The attributes it reports once applied (its consumers' markers name them)."""


@dataclass
class Desired:
    """One environment's desired resources (in dependency order) and the manifest settings plan/apply use."""

    manifest: Manifest
    resources: dict[Address, DesiredResource]
    files: FileSource
    project_dir: Path
    project_files: tuple[str, ...] = ()
    """Files the spec names, relative to ``project_dir`` (``plan --out`` must never overwrite them)."""

    @property
    def project(self) -> str:
        return self.manifest.project

    @property
    def environment(self) -> str:
        return self.manifest.environment


def desired_from_parts(
    manifest: Manifest,
    payloads: Mapping[Address, dict[str, Any]],
    files: FileSource,
    project_dir: Path,
) -> Desired:
    """Desired state from a manifest and each resource's ``{properties, attachments}`` payload
    (optionally with :data:`SPEC_FIELDS_KEY`, its spec fields; or with a
    :data:`~mlspec.contract.payload.PROPERTIES_LOADER` in place of the properties, read when first used).

    Hashes come from the manifest when it has them, else are computed as the build does.
    """
    from mlspec.contract.graph import topological_order

    resources: dict[Address, DesiredResource] = {}
    for resource in topological_order(manifest.resources):
        body = payloads[resource.address]
        resources[resource.address] = _desired(resource, body, manifest.hashes.get(resource.address, ""))
    return Desired(manifest, resources, files, project_dir)


def _desired(resource: Resource, body: dict[str, Any], digest: str) -> DesiredResource:
    recorded = body.get(SPEC_FIELDS_KEY)
    attachments = dict(body.get("attachments") or {})
    load = body.get(PROPERTIES_LOADER)
    if callable(load) and digest:
        payload = Payload.deferred(load, attachments, digest)
    else:
        properties = load() if callable(load) else body.get("properties")
        payload = Payload(
            properties, attachments, digest or payload_hash(resource.provider_type, properties, attachments)
        )
    return DesiredResource(
        address=resource.address,
        provider_type=resource.provider_type,
        payload=payload,
        depends_on=list(resource.depends_on),
        immutable=list(resource.immutable),
        files=list(resource.files),
        # a manifest read back from JSON has list indexes as strings: ``reports[0]``, not ``reports.0``
        source=format_path(
            tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in resource.source)
        ),
        spec_fields=dict(recorded) if isinstance(recorded, dict) else None,
        needs=list(resource.needs),
        outputs=list(resource.outputs),
    )


LeafMemo = dict[SpecPath, dict[str, Any]]
"""The leaves of spec subtrees already flattened, by path, for one resolved spec: a build's notebooks
and its pipeline flatten the same transforms (see :func:`spec_fields`)."""


def spec_fields(
    data: Mapping[str, Any], source: SpecPath, reads: Iterable[SpecPath] = (), memo: LeafMemo | None = None
) -> dict[str, Any]:
    """:func:`section_fields` of ``source`` and of each other section the resource ``reads``, merged
    (each bounded on its own, so a big section read on the side never hides the resource's own).
    ``memo``, shared by the calls for one ``data`` (never across specs), flattens each subtree once."""
    memo = {} if memo is None else memo
    fields = section_fields(data, source, memo)
    for other in reads:
        fields.update((k, v) for k, v in section_fields(data, other, memo).items() if k not in fields)
    return fields


def section_fields(data: Mapping[str, Any], source: SpecPath, memo: LeafMemo | None = None) -> dict[str, Any]:
    """The resolved spec values under ``source``, flattened to ``{dotted.path: value}``, bounded.

    Leaves are JSON scalars or empty lists/maps; strings pass through :func:`redact` (the resolved
    spec holds no secrets, and state must never). When the fields exceed :data:`SPEC_FIELD_LIMIT`
    or :data:`SPEC_FIELDS_BYTES`, big subtrees become one digest entry each (``transforms.x: "(12
    fields, sha256 …)"``), then every child of ``source``, then ``source`` itself: a change there
    still shows, only less precisely. ``{}`` when the spec has nothing at ``source``. A new dict
    each call (``memo`` keeps its own).
    """
    memo = {} if memo is None else memo
    located = _locate(data, source)
    if located is None:
        return {}
    root_path, root = located
    # Each child's leaves once (a pipeline built from every transform has thousands): the three
    # ever coarser forms below are made from them.
    per_child: list[tuple[SpecPath, dict[str, Any]]] | None = None
    leaves = memo.get(root_path)
    if leaves is None:
        per_child = _per_child_leaves(root, root_path, memo)
        leaves = memo[root_path] = {k: v for _, child_leaves in per_child for k, v in child_leaves.items()}
    if _fits(leaves):
        return dict(leaves)
    if per_child is None:
        per_child = _per_child_leaves(root, root_path, memo)
    shrunk: dict[str, Any] = {}
    for path, child_leaves in per_child:  # first only the big children become digests
        small = len(child_leaves) <= _SUBTREE_FIELDS and _size(child_leaves) <= _SUBTREE_BYTES
        shrunk.update(child_leaves if small else {format_path(path): _digest(child_leaves)})
    if _fits(shrunk):
        return shrunk
    every = {format_path(path): _digest(child_leaves) for path, child_leaves in per_child}
    if _fits(every):
        return every
    return {format_path(root_path): _digest(leaves)}


def _per_child_leaves(
    root: Any, root_path: SpecPath, memo: LeafMemo
) -> list[tuple[SpecPath, dict[str, Any]]]:
    found = []
    for path, child in _children(root, root_path):
        child_leaves = memo.get(path)
        if child_leaves is None:
            child_leaves = memo[path] = dict(_leaves(child, path))
        found.append((path, child_leaves))
    return found


def with_spec_fields(document: dict[str, Any], desired: Desired) -> dict[str, Any]:
    """A manifest document (``mlspec.compiler.build.manifest_document``) whose payloads also hold
    each resource's spec fields, so a build cache hit yields them as :func:`desired_from_parts` reads them."""
    by_address = {str(a): r for a, r in desired.resources.items()}
    for entry in document["resources"]:
        resource = by_address.get(entry["address"])
        if resource is not None and resource.spec_fields is not None:
            entry["payload"] = {**entry["payload"], SPEC_FIELDS_KEY: resource.spec_fields}
    return document


def _locate(data: Any, source: SpecPath) -> tuple[SpecPath, Any] | None:
    """The value at ``source`` and its path with list indexes as ints (a manifest read back from
    JSON has them as strings); ``None`` when the spec has nothing there."""
    node = data
    path: list[str | int] = []
    for part in source:
        if isinstance(node, list):
            index = part if isinstance(part, int) else int(part) if part.isdigit() else -1
            if not 0 <= index < len(node):
                return None
            node = node[index]
            path.append(index)
        elif isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
            path.append(str(part))
        else:
            return None
    return tuple(path), node


def _children(value: Any, path: SpecPath) -> Iterator[tuple[SpecPath, Any]]:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield (*path, str(key)), child
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            yield (*path, index), child
    else:
        yield path, value


def _leaves(value: Any, path: SpecPath) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict | list) and value:
        for child_path, child in _children(value, path):
            yield from _leaves(child, child_path)
        return
    yield format_path(path), _recordable(value)


def _recordable(value: Any) -> Any:
    if isinstance(value, dict | list):  # only empty ones reach here
        return type(value)()
    if value is None or isinstance(value, bool | int | float):
        return value
    text = redact(value if isinstance(value, str) else str(value))
    if len(text) <= SPEC_VALUE_CHARS:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{text[: SPEC_VALUE_CHARS // 2]}… ({len(text)} characters, sha256 {digest})"


def _digest(leaves: dict[str, Any]) -> str:
    canonical = json.dumps(leaves, sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    return f"({len(leaves)} field{'s' * (len(leaves) != 1)}, sha256 {digest})"


def _size(fields: dict[str, Any]) -> int:
    return len(json.dumps(fields, ensure_ascii=False, default=str))


def _fits(fields: dict[str, Any]) -> bool:
    if len(fields) > SPEC_FIELD_LIMIT:
        return False
    # Most resources' fields are far below the limit: an upper bound of their JSON size decides
    # without serialising them (a thousand resources' dumps were a tenth of a plan).
    return _size_bound(fields) <= SPEC_FIELDS_BYTES or _size(fields) <= SPEC_FIELDS_BYTES


def _size_bound(fields: dict[str, Any]) -> int:
    """At least the length :func:`_size` gives: a character of a string takes at most six in JSON
    (``\\u001f``), an int its digits, a float at most 32 (its ``repr``), anything else recorded (null,
    booleans, empty lists and maps) at most 5."""
    bound = 2
    for key, value in fields.items():
        bound += 6 * len(key) + 4  # quotes, colon, comma
        if isinstance(value, str):
            bound += 6 * len(value) + 2
        elif isinstance(value, int) and not isinstance(value, bool):
            bound += len(str(value))
        else:
            bound += 32
    return bound
