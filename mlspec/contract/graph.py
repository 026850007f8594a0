"""The resource graph: the compiler's intermediate representation and the contract with plan/apply.

Renderers produce :class:`Resource` values (an :class:`Address`, the files that carry the
deployable payload, dependencies) and the build writes them to ``manifest.json``. No
later stage re-reads the YAML spec: ``plan`` and ``apply`` work from the manifest alone.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mlspec.diagnostics import SpecPath

MANIFEST_VERSION = 1
_SEGMENT = re.compile(r"[a-z][a-z0-9_]*")
_BAD_NAME_CHAR = re.compile(r"[/\\\n\r\t *?\[\]]")


@dataclass(frozen=True, order=True)
class Address:
    """A stable resource address: ``<service>.<kind>.<name>``, e.g. ``synapse.notebook.customer_features``.

    ``service`` and ``kind`` never contain dots; ``name`` may (Azure ML asset names can).
    """

    service: str
    kind: str
    name: str

    def __post_init__(self) -> None:
        if not _SEGMENT.fullmatch(self.service) or not _SEGMENT.fullmatch(self.kind):
            raise ValueError(f"bad address service/kind: {self.service!r}.{self.kind!r}")
        if not self.name or _BAD_NAME_CHAR.search(self.name):
            raise ValueError(f"bad address name: {self.name!r}")

    def __str__(self) -> str:
        return f"{self.service}.{self.kind}.{self.name}"

    @staticmethod
    def parse(text: str) -> Address:
        return _parse_address(text)


@functools.lru_cache(maxsize=65536)
def _parse_address(text: str) -> Address:
    """Addresses are frozen values: one per text, parsed once (state, manifest and plan repeat them)."""
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise ValueError(f"{text!r} is not an address (<service>.<kind>.<name>)")
    return Address(*parts)


@dataclass
class Resource:
    """One deployable thing.

    ``files`` are paths relative to the build folder; the first is the primary artifact.
    When several resources share one file (alerts in one ARM template), ``pointer`` is the
    JSON pointer of this resource's part of it. ``provider_type`` says what kind of
    object the provider creates (``Microsoft.Synapse/workspaces/notebooks``,
    ``kubernetes:apps/v1/Deployment``, ``azureml:pipeline_job``...). ``immutable`` lists the
    top-level property names whose change forces a replace. ``source`` is the spec path
    the resource comes from (for error locations); ``reads`` are other spec sections its payload is
    also built from (the retrain schedule embeds the pipeline job built from ``model``), so a plan
    can name a change there as the cause. ``needs`` are the output markers its payload
    holds (``<target>.<attribute>``, sorted; :mod:`mlspec.contract.outputs`) and ``outputs`` the
    attributes it reports once applied; the build fills both in.
    """

    address: Address
    provider_type: str
    files: list[str]
    depends_on: list[Address] = field(default_factory=list)
    pointer: str = ""
    immutable: list[str] = field(default_factory=list)
    source: SpecPath = ()
    description: str = ""
    needs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    reads: list[SpecPath] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.files[0]

    @property
    def service(self) -> str:
        return self.address.service


@dataclass
class Manifest:
    """The build's resource graph, as written to ``manifest.json``."""

    project: str
    environment: str
    spec_file: str
    resources: list[Resource]
    hashes: dict[Address, str] = field(default_factory=dict)
    workspace: dict[str, Any] = field(default_factory=dict)
    provider: str = "local"
    protect: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    moved: list[tuple[Address, Address]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    """Each source the transforms read, by name: its lake path (a provider checks they exist)."""
    report_workspaces: dict[str, str] = field(default_factory=dict)
    """The Power BI workspace each report is published to, by the report's address."""
    version: int = MANIFEST_VERSION

    def by_address(self) -> dict[Address, Resource]:
        return {r.address: r for r in self.resources}

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "project": self.project,
            "environment": self.environment,
            "spec_file": self.spec_file,
            "provider": self.provider,
            "protect": self.protect,
            "state": self.state,
            "moved": [{"from": str(a), "to": str(b)} for a, b in self.moved],
            "workspace": self.workspace,
            **({"sources": dict(sorted(self.sources.items()))} if self.sources else {}),
            **(
                {"report_workspaces": dict(sorted(self.report_workspaces.items()))}
                if self.report_workspaces
                else {}
            ),
            "resources": [
                {
                    "address": str(r.address),
                    "provider_type": r.provider_type,
                    "file": r.file,
                    "files": r.files,
                    **({"pointer": r.pointer} if r.pointer else {}),
                    "depends_on": sorted(str(d) for d in r.depends_on),
                    "immutable": r.immutable,
                    "hash": self.hashes.get(r.address, ""),
                    "source": _dotted(r.source),
                    **({"reads": [_dotted(p) for p in r.reads]} if r.reads else {}),
                    **({"description": r.description} if r.description else {}),
                    # Only where there are some: most resources neither need nor produce outputs.
                    **({"needs": list(r.needs)} if r.needs else {}),
                    **({"outputs": list(r.outputs)} if r.outputs else {}),
                }
                for r in sorted(self.resources, key=lambda r: str(r.address))
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("version") != MANIFEST_VERSION:
            raise ValueError(
                f"unsupported manifest version {data.get('version')!r} (this mlspec reads {MANIFEST_VERSION})"
            )
        resources: list[Resource] = []
        hashes: dict[Address, str] = {}
        for entry in data["resources"]:
            address = Address.parse(entry["address"])
            resources.append(
                Resource(
                    address=address,
                    provider_type=entry["provider_type"],
                    files=list(entry["files"]),
                    depends_on=[Address.parse(d) for d in entry["depends_on"]],
                    pointer=entry.get("pointer", ""),
                    immutable=list(entry.get("immutable", [])),
                    source=tuple(entry["source"].split(".")) if entry.get("source") else (),
                    reads=[tuple(str(p).split(".")) for p in entry.get("reads") or []],
                    description=entry.get("description", ""),
                    needs=[str(n) for n in entry.get("needs") or []],
                    outputs=[str(o) for o in entry.get("outputs") or []],
                )
            )
            hashes[address] = entry.get("hash", "")
        return cls(
            project=data["project"],
            environment=data["environment"],
            spec_file=data["spec_file"],
            resources=resources,
            hashes=hashes,
            workspace=dict(data.get("workspace", {})),
            provider=data.get("provider", "local"),
            protect=bool(data.get("protect", False)),
            state=dict(data.get("state", {})),
            moved=[(Address.parse(m["from"]), Address.parse(m["to"])) for m in data.get("moved", [])],
            sources={str(k): str(v) for k, v in dict(data.get("sources") or {}).items()},
            report_workspaces={str(k): str(v) for k, v in dict(data.get("report_workspaces") or {}).items()},
        )


def _dotted(path: SpecPath) -> str:
    return ".".join(str(p) for p in path)


def topological_order(resources: Iterable[Resource]) -> list[Resource]:
    """Dependencies first; ties broken by address so the order is deterministic.

    Raises ``ValueError`` naming the cycle if there is one (a compiler bug, never user input).
    """
    by_address = {r.address: r for r in resources}
    indegree = dict.fromkeys(by_address, 0)
    dependants: dict[Address, list[Address]] = {a: [] for a in by_address}
    for r in by_address.values():
        for dep in r.depends_on:
            if dep in by_address:
                indegree[r.address] += 1
                dependants[dep].append(r.address)
    # A heap of (service, kind, name): the smallest ready address first, as ``Address`` orders, in
    # O(n log n) (sorting the ready list after every step was quadratic at thousands of resources).
    ready = [(a.service, a.kind, a.name) for a, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    order: list[Resource] = []
    while ready:
        address = Address(*heapq.heappop(ready))
        order.append(by_address[address])
        for child in dependants[address]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (child.service, child.kind, child.name))
    if len(order) != len(by_address):
        stuck = sorted(str(a) for a, n in indegree.items() if n > 0)
        raise ValueError(f"dependency cycle among: {', '.join(stuck)}")
    return order


def dependency_closure(resources: Iterable[Resource], selected: Iterable[Address]) -> set[Address]:
    """``selected`` plus everything they depend on, transitively."""
    by_address = {r.address: r for r in resources}
    result: set[Address] = set()
    stack = list(selected)
    while stack:
        address = stack.pop()
        if address in result or address not in by_address:
            continue
        result.add(address)
        stack.extend(by_address[address].depends_on)
    return result


def content_hash(parts: Iterator[bytes] | Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return "sha256:" + digest.hexdigest()


def canonical_json(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the bytes content hashes are taken over (orjson: hashing a
    build's payloads with the standard library costs more than rendering them)."""
    import orjson

    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
