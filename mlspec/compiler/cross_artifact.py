"""Checks across services' artifacts: that what one artifact reads, another writes.

Each service checks its own artifacts; these look at the build as a whole, for the ways separately
valid artifacts fail together on Azure (each a finding of the review behind them):

- MLS680: an alert queries a custom Log Analytics table (``<Name>_CL``) that no rendered job writes:
  the table must be declared, a data collection rule must route a stream into it, and a rendered job
  must send that stream. Platform tables (Container Insights', Application Insights') are written by
  the platform.
- MLS681: an artifact reads a lake path (an Azure ML job or monitor input, a Power BI query) that is
  neither a spec source (written outside mlspec), a transform's output nor the prediction log.
- MLS682: an ARM resource names another resource of the build (``resourceId``/``reference``) without
  depending on it: each is applied on its own, so the other may not exist yet on a first deploy.

Principals as object ids and duplicate role assignments (MLS651, MLS654), image digests and model
versions (MLS635) and output markers (MLS605) are checked by their own services and the build; the
tests of this module cover those classes too, across the examples.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlspec.compiler.artifacts import Artifact, ArtifactSet, RenderContext
from mlspec.contract.graph import Address
from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.spec_schema.checks.formats import ABFSS

PLATFORM_TABLES = frozenset(
    {
        "ContainerLog",
        "ContainerLogV2",
        "KubePodInventory",
        "KubeEvents",
        "Perf",
        "InsightsMetrics",
        "AppRequests",
        "AppExceptions",
        "requests",
        "exceptions",
    }
)
_CUSTOM_TABLE = re.compile(r"\b([A-Za-z][A-Za-z0-9_]*_CL)\b")
_STREAM_FLAG = re.compile(r"--stream\s+(Custom-[A-Za-z0-9_]+)")
_POWERBI_LAKE = re.compile(r'#"LakeEndpoint_([a-z0-9]+)" & "(/[^"]*)"')
_RESOURCE_ID = re.compile(r"resourceId\(((?:\s*'[^']*'\s*,?)+)\)")


def check(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    return [*_tables(ctx, out), *_lake_paths(ctx, out), *_references(ctx, out)]


# --- MLS680: every custom table an alert queries is written ----------------------------------------


def _tables(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    queried: dict[str, SpecPath] = {}
    declared: set[str] = set()
    routed: set[str] = set()
    for resource in out.resources:
        arm = _arm_resource(out, resource.file, resource.pointer)
        if arm is None:
            continue
        kind = str(arm.get("type", ""))
        if kind == "Microsoft.Insights/scheduledQueryRules":
            for criterion in arm.get("properties", {}).get("criteria", {}).get("allOf", []):
                for table in _CUSTOM_TABLE.findall(str(criterion.get("query", ""))):
                    queried.setdefault(table, resource.source)
        elif kind == "Microsoft.OperationalInsights/workspaces/tables":
            declared.add(str(arm.get("name", "")).rsplit("/", 1)[-1])
        elif kind == "Microsoft.Insights/dataCollectionRules":
            for flow in arm.get("properties", {}).get("dataFlows", []):
                for stream in flow.get("streams", []):
                    if str(flow.get("outputStream", "")).removeprefix("Custom-") == str(stream).removeprefix(
                        "Custom-"
                    ):
                        routed.add(str(stream))
    sent = {stream for artifact in out.artifacts.values() for stream in _streams_sent(artifact)}
    found: list[Diagnostic] = []
    for table, source in sorted(queried.items()):
        stream = f"Custom-{table}"
        missing = (
            "no table resource declares it"
            if table not in declared
            else "no data collection rule routes a stream into it"
            if stream not in routed
            else "no rendered job sends rows to it"
            if stream not in sent
            else None
        )
        if missing:
            found.append(
                ctx.error(
                    "MLS680",
                    f"an alert queries the Log Analytics table {table}, but {missing}: it would never fire",
                    source,
                    "the monitoring job writes MlspecModelMonitoring_CL; it is rendered with a deployment "
                    "that logs predictions (deployment.log_predictions) and workspace.log_analytics",
                )
            )
    return found


def _streams_sent(artifact: Artifact) -> Iterator[str]:
    """Streams an Azure ML component sends rows to (its command names ``--stream``)."""
    data = artifact.data
    if isinstance(data, dict) and data.get("type") == "command" and isinstance(data.get("command"), str):
        yield from _STREAM_FLAG.findall(data["command"])


# --- MLS681: every lake path read is written -----------------------------------------------------


def _lake_paths(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    model = ctx.model
    written: list[tuple[str, str, str]] = []
    for source in model.sources.values():
        written += _locations(source.path)
    for transform in model.transforms.values():
        written += _locations(transform.output.path)
    if model.deployment is not None and model.deployment.log_predictions is not None:
        written += _locations(model.deployment.log_predictions.path)
    if model.monitoring is not None and model.monitoring.ground_truth is not None:
        written += _locations(model.monitoring.ground_truth)  # the team writes it
    found: list[Diagnostic] = []
    for resource in out.resources:
        if not resource.provider_type.startswith(("azureml:", "powerbi:")):
            continue
        for path in resource.files:
            artifact = out.artifacts[path]
            for location in _read_locations(artifact):
                if not any(_under(location, place) for place in written):
                    account, container, folder = location
                    found.append(
                        ctx.error(
                            "MLS681",
                            f"{path} reads abfss://{container}@{account}.dfs.core.windows.net{folder}, which no "
                            "source, transform or prediction log of the spec writes",
                            resource.source,
                            "read a source's or a transform's path, or the deployment's log_predictions path",
                        )
                    )
    return _unique(found)


def _read_locations(artifact: Artifact) -> Iterator[tuple[str, str, str]]:
    """Lake locations an Azure ML job or monitor reads (its inputs' paths), or a Power BI query reads."""
    if artifact.path.endswith(".tmdl"):
        text = artifact.content.decode("utf-8", "replace")
        for account, rest in _POWERBI_LAKE.findall(text):
            container, _, folder = rest.lstrip("/").partition("/")
            yield account, container, _folder("/" + folder)
        return
    if isinstance(artifact.data, dict):
        for value in _input_paths(artifact.data):
            yield from _locations(value)


def _input_paths(node: Any, key: str = "") -> Iterator[str]:
    """The ``path`` of every ``input_data``/``inputs`` entry in an Azure ML document."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "path" and key in ("input", "input_data") and isinstance(value, str):
                yield value
            yield from _input_paths(
                value, "input" if name == "inputs" else name if name == "input_data" else key
            )
    elif isinstance(node, list):
        for item in node:
            yield from _input_paths(item, key)


def _locations(url: str) -> list[tuple[str, str, str]]:
    match = ABFSS.fullmatch(url.strip())
    if match is None:
        return []
    return [(match["account"], match["container"], _folder(match["path"] or "/"))]


def _folder(path: str) -> str:
    """A folder path with one leading and one trailing slash, ``*`` globs cut off at their folder."""
    cut = path.split("*", 1)[0]
    return "/" + "/".join(part for part in cut.split("/") if part) + "/"


def _under(location: tuple[str, str, str], place: tuple[str, str, str]) -> bool:
    return location[:2] == place[:2] and (
        location[2].startswith(place[2]) or place[2].startswith(location[2])
    )


# --- MLS682: a resource named in an ARM expression is one the naming resource depends on --------------


def _references(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    by_id: dict[tuple[str, str], Address] = {}
    arm_resources: list[tuple[Any, dict[str, Any]]] = []
    for resource in out.resources:
        arm = _arm_resource(out, resource.file, resource.pointer)
        if arm is None or not isinstance(arm.get("name"), str) or arm["name"].startswith("["):
            if arm is not None:
                arm_resources.append((resource, arm))
            continue
        by_id[(str(arm.get("type", "")).lower(), arm["name"].lower())] = resource.address
        arm_resources.append((resource, arm))
    depends = {r.address: set(r.depends_on) for r in out.resources}
    found: list[Diagnostic] = []
    for resource, arm in arm_resources:
        reachable = _reachable(resource.address, depends)
        for named in sorted(set(_named(arm)) - {resource.address}):
            if named in by_id:
                target = by_id[named]
                if target != resource.address and target not in reachable:
                    found.append(
                        ctx.error(
                            "MLS682",
                            f"{resource.address} names {target} in an ARM expression but does not depend on "
                            "it: on a first deploy it may be applied before that resource exists",
                            resource.source,
                            "a bug in mlspec's renderer: please report it with the spec",
                        )
                    )
    return found


def _named(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "dependsOn":
                yield from _named(value)
    elif isinstance(node, list):
        for item in node:
            yield from _named(item)
    elif isinstance(node, str) and node.startswith("["):
        for arguments in _RESOURCE_ID.findall(node):
            parts = re.findall(r"'([^']*)'", arguments)
            if len(parts) >= 2:
                yield parts[0].lower(), "/".join(parts[1:]).lower()


def _reachable(start: Address, depends: dict[Address, set[Address]]) -> set[Address]:
    seen: set[Address] = set()
    stack = list(depends.get(start, ()))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(depends.get(current, ()))
    return seen


# --- shared -------------------------------------------------------------------------------------


def _arm_resource(out: ArtifactSet, file: str, pointer: str | None) -> dict[str, Any] | None:
    artifact = out.artifacts.get(file)
    if artifact is None or not pointer or not pointer.startswith("/resources/"):
        return None
    data = artifact.data
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        return None
    try:
        found = data["resources"][int(pointer.removeprefix("/resources/"))]
    except (ValueError, IndexError):
        return None
    return found if isinstance(found, dict) else None


def _unique(found: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[str] = set()
    kept = []
    for d in found:
        if d.message not in seen:
            seen.add(d.message)
            kept.append(d)
    return kept
