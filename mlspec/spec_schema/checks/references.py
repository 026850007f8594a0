"""Everything refers to other things by name; a name that does not resolve is an error at its line."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.report_columns import PREDICTIONS_TABLE  # a report table when logs are set

WORKSPACE_SCOPES = (
    "subscription",
    "resource_group",
    "machine_learning",
    "synapse",
    "key_vault",
    "container_registry",
    "kubernetes",
    "log_analytics",
    "storage_account",
    "application_insights",
)


def _suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known: {', '.join(sorted(candidates))}" if candidates else "none are declared"


def check_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    m = ctx.model
    sources, transforms = set(m.sources), set(m.transforms)
    datasets = sorted(sources | transforms)
    for name in sorted(sources & transforms):
        yield ctx.error(
            "MLS300",
            f"{name!r} is both a source and a transform",
            ("transforms", name),
            "give the transform another name: inputs refer to both by name",
            at_key=True,
        )
    # Spark resolves view names ignoring case, notebooks are files on case-insensitive disks, and Power
    # BI tables ignore case: two datasets whose names differ only in case would overwrite each other.
    first_of: dict[str, tuple[str, str]] = {}
    for section, names in (("sources", list(m.sources)), ("transforms", list(m.transforms))):
        for name in names:
            earlier = first_of.setdefault(name.casefold(), (section, name))
            if earlier != (section, name) and earlier[1] != name:
                yield ctx.error(
                    "MLS300",
                    f"{name!r} and {earlier[1]!r} differ only in case",
                    (section, name),
                    "Spark views, notebook files and Power BI tables ignore case: give one another name",
                    at_key=True,
                )
    for name, transform in m.transforms.items():
        for i, ref in enumerate(transform.inputs):
            if ref not in sources and ref not in transforms:
                yield ctx.error(
                    "MLS301",
                    f"transform {name!r} reads unknown input {ref!r}",
                    ("transforms", name, "inputs", i),
                    _suggest(ref, datasets),
                )
            elif ref == name:
                yield ctx.error(
                    "MLS307", f"transform {name!r} reads itself", ("transforms", name, "inputs", i)
                )
    yield from _cycles(ctx)

    if m.model is not None and m.model.training.data not in sources | transforms:
        ref = m.model.training.data
        yield ctx.error(
            "MLS302",
            f"training data {ref!r} is not a source or transform",
            ("model", "training", "data"),
            _suggest(ref, datasets),
        )

    secrets = list(m.access.secrets)
    if m.deployment is not None:
        for i, ref in enumerate(m.deployment.secrets):
            if ref not in m.access.secrets:
                yield ctx.error(
                    "MLS303",
                    f"deployment secret {ref!r} is not declared in access.secrets",
                    ("deployment", "secrets", i),
                    _suggest(ref, secrets),
                )

    yield from _monitoring_refs(ctx)
    yield from _report_refs(ctx, datasets)

    scopes = [*WORKSPACE_SCOPES, *datasets]
    for i, grant in enumerate(m.access.grants):
        if grant.scope not in scopes:
            yield ctx.error(
                "MLS306",
                f"grant scope {grant.scope!r} is not a workspace key, source or transform",
                ("access", "grants", i, "scope"),
                _suggest(grant.scope, scopes),
            )
        elif (
            grant.scope in WORKSPACE_SCOPES
            and grant.scope not in ("subscription", "resource_group")
            and getattr(m.workspace, grant.scope) is None
        ):
            yield ctx.error(
                "MLS306",
                f"grant scope {grant.scope!r}: workspace.{grant.scope} is not set",
                ("access", "grants", i, "scope"),
                f"set workspace.{grant.scope}",
            )
    yield from _required_workspace(ctx)


CYCLE_SHOWN = 10
"""A cycle of more than this many transforms (and three: cutting fewer saves nothing) is named by its
first and last five."""


def _cycles(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Report each cycle in the transform graph once, showing it, at the first transform in it."""
    graph = {
        name: [i for i in t.inputs if i in ctx.model.transforms and i != name]
        for name, t in ctx.model.transforms.items()
    }
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    cycles: list[tuple[str, list[str]]] = []
    for name in ctx.model.transforms:
        if name not in state:
            _visit(name, graph, state, [], cycles)
    reported: set[frozenset[str]] = set()
    for node, cycle in cycles:
        key = frozenset(cycle)
        if key in reported:
            continue
        reported.add(key)
        dep = cycle[0]
        shown = " → ".join([*cycle, dep])
        if len(cycle) > CYCLE_SHOWN + 3:  # a cycle of hundreds: its ends, and how long it is
            half = CYCLE_SHOWN // 2
            shown = " → ".join([*cycle[:half], "…", *cycle[-half:], dep]) + f" ({len(cycle)} transforms)"
        index = ctx.model.transforms[node].inputs.index(dep)
        yield ctx.error(
            "MLS307",
            f"transforms form a cycle: {shown}",
            ("transforms", node, "inputs", index),
            "transforms must form a DAG: one of these inputs has to read a source instead",
        )


def _visit(
    node: str,
    graph: dict[str, list[str]],
    state: dict[str, int],
    stack: list[str],
    cycles: list[tuple[str, list[str]]],
) -> None:
    """Depth-first from ``node``; each back edge adds (the transform it leaves, the cycle) to ``cycles``.

    A loop over an explicit stack, not recursion: a chain of thousands of transforms listed from its
    end would pass Python's recursion limit. (Nor a recursive closure, which would be a reference
    cycle keeping the check's context alive until a full garbage collection.)"""
    state[node] = 1
    stack.append(node)
    pending = [iter(graph[node])]
    while pending:
        dep = next(pending[-1], None)
        if dep is None:
            state[stack.pop()] = 2
            pending.pop()
        elif state.get(dep) == 1:
            cycles.append((stack[-1], stack[stack.index(dep) :]))
        elif dep not in state:
            state[dep] = 1
            stack.append(dep)
            pending.append(iter(graph[dep]))


def _monitoring_refs(ctx: CheckContext) -> Iterator[Diagnostic]:
    monitoring = ctx.model.monitoring
    if monitoring is None:
        return
    names = [a.name for a in monitoring.alerts]
    seen: set[str] = set()
    for i, alert in enumerate(monitoring.alerts):
        if alert.name.casefold() in seen:  # alert rules are ARM resources: their names ignore case
            yield ctx.error(
                "MLS313",
                f"duplicate alert name {alert.name!r} (alert names ignore case)",
                ("monitoring", "alerts", i, "name"),
            )
        seen.add(alert.name.casefold())
        if alert.action == "retrain" and monitoring.retrain is None:
            yield ctx.error(
                "MLS311",
                f"alert {alert.name!r} has action: retrain but monitoring.retrain is not configured",
                ("monitoring", "alerts", i, "action"),
                "add `monitoring.retrain:` (a schedule and/or on_alerts)",
            )
        if ctx.model.deployment is None and alert.signal not in (
            "data_drift",
            "data_quality",
            "model_metric",
        ):
            yield ctx.error(
                "MLS314",
                f"alert {alert.name!r} watches {alert.signal} but there is no deployment to watch",
                ("monitoring", "alerts", i, "signal"),
                "add a deployment section or remove the alert",
            )
    wired = [a.name for a in monitoring.alerts if a.action == "retrain"]
    if monitoring.retrain is not None:
        wired += [n for n in monitoring.retrain.on_alerts if n not in wired]
        if wired and monitoring.retrain.schedule is None:
            yield ctx.error(
                "MLS311",
                f"alert-triggered retraining ({', '.join(wired)}) needs monitoring.retrain.schedule",
                ("monitoring", "retrain"),
                'the retrain trigger re-runs the scheduled Azure ML retraining pipeline: add schedule: a cron, e.g. "0 3 * * 1"',
            )
        for i, ref in enumerate(monitoring.retrain.on_alerts):
            if ref not in names:
                yield ctx.error(
                    "MLS304",
                    f"retrain.on_alerts names unknown alert {ref!r}",
                    ("monitoring", "retrain", "on_alerts", i),
                    _suggest(ref, names),
                )
        if ctx.model.model is None:
            yield ctx.error(
                "MLS311",
                "monitoring.retrain needs a model section to retrain",
                ("monitoring", "retrain"),
                "add `model:`",
            )
    if (
        (monitoring.alerts or monitoring.retrain)
        and not monitoring.notify.email
        and not monitoring.notify.webhook
    ):
        yield ctx.warning(
            "MLS315",
            "alerts are defined but nobody is notified",
            ("monitoring",),
            "add monitoring.notify.email or monitoring.notify.webhook",
        )


def _report_refs(ctx: CheckContext, datasets: list[str]) -> Iterator[Diagnostic]:
    tables = [*datasets, PREDICTIONS_TABLE]
    seen: set[str] = set()
    for r, report in enumerate(ctx.model.reports):
        if report.name in seen:
            yield ctx.error("MLS313", f"duplicate report name {report.name!r}", ("reports", r, "name"))
        seen.add(report.name)
        for i, table in enumerate(report.tables):
            if table not in tables:
                yield ctx.error(
                    "MLS305",
                    f"report {report.name!r} uses unknown table {table!r}",
                    ("reports", r, "tables", i),
                    _suggest(table, tables),
                )
            elif table == PREDICTIONS_TABLE and (
                ctx.model.deployment is None or ctx.model.deployment.log_predictions is None
            ):
                yield ctx.error(
                    "MLS305",
                    "report table 'predictions' needs deployment.log_predictions",
                    ("reports", r, "tables", i),
                    "set deployment.log_predictions.path to log served predictions",
                )
        for name, measure in report.measures.items():
            if measure.table not in report.tables:
                yield ctx.error(
                    "MLS305",
                    f"measure {name!r} is on table {measure.table!r}, which the report does not list",
                    ("reports", r, "measures", name, "table"),
                    f"add it to reports[{report.name!r}].tables",
                )
        for p, page in enumerate(report.pages):
            for v, visual in enumerate(page.visuals):
                if visual.table is not None and visual.table not in report.tables:
                    yield ctx.error(
                        "MLS305",
                        f"visual reads table {visual.table!r}, which the report does not list",
                        ("reports", r, "pages", p, "visuals", v, "table"),
                        _suggest(visual.table, report.tables),
                    )


_NEEDS = (
    ("transforms", ("synapse",), "transforms run as Synapse notebooks"),
    ("model", ("machine_learning",), "training runs in Azure ML"),
    ("deployment", ("kubernetes", "container_registry"), "serving runs on AKS with the image in ACR"),
    ("monitoring", ("log_analytics",), "log alerts query Log Analytics"),
)


def _required_workspace(ctx: CheckContext) -> Iterator[Diagnostic]:
    m = ctx.model
    deployable = [
        name
        for name, present in (
            ("transforms", bool(m.transforms)),
            ("model", m.model is not None),
            ("deployment", m.deployment is not None),
            ("monitoring", m.monitoring is not None),
            ("reports", bool(m.reports)),
            ("access.grants", bool(m.access.grants)),
        )
        if present
    ]
    if deployable:
        for key in ("subscription_id", "resource_group", "location"):
            if getattr(m.workspace, key) is None:
                has_workspace = ctx.spec.document.data.get("workspace") is not None
                needing = tuple(deployable[0].split("."))
                yield ctx.error(
                    "MLS316",
                    f"{deployable[0]} needs workspace.{key}",
                    ("workspace",) if has_workspace else needing,
                    f"set workspace.{key}: the Azure resources are deployed into it",
                    at_key=not has_workspace,
                )
    for section, keys, why in _NEEDS:
        value = getattr(m, section)
        if not value:
            continue
        for key in keys:
            if getattr(m.workspace, key) is None:
                has_workspace = ctx.spec.document.data.get("workspace") is not None
                yield ctx.error(
                    "MLS316",
                    f"{section} needs workspace.{key}",
                    ("workspace",) if has_workspace else (section,),
                    f"set workspace.{key}: {why}",
                    at_key=not has_workspace,
                )
    if m.transforms and m.workspace.spark_pool is None:
        for name, t in m.transforms.items():
            if t.spark.pool is None:
                yield ctx.error(
                    "MLS316",
                    f"transform {name!r} has no Spark pool",
                    ("transforms", name),
                    "set workspace.spark_pool or the transform's spark.pool",
                    at_key=True,
                )
    if m.deployment is not None and m.deployment.secrets and m.workspace.key_vault is None:
        yield ctx.error(
            "MLS316", "deployment secrets need workspace.key_vault", ("workspace",), "set workspace.key_vault"
        )
    elif m.deployment is not None and m.deployment.auth == "key" and m.workspace.key_vault is None:
        yield ctx.error(
            "MLS316",
            "auth: key needs workspace.key_vault (the endpoint key is read from Key Vault)",
            ("deployment", "auth"),
            "set workspace.key_vault, or use auth: entra",
        )
