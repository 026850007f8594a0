"""Value formats: lake URLs, cron, durations, GUIDs, CIDRs, Kubernetes quantities, ranges, files."""

from __future__ import annotations

import errno
import functools
import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.project_files import ProjectFileError, check_project_file
from mlspec.spec_schema.alert_windows import LOG_MAX_LOOKBACK, allowed_windows, rule_kind
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.checks.naming import STORAGE_ACCOUNT
from mlspec.spec_schema.cron import cron_problem
from mlspec.spec_schema.durations import duration_problem, iso8601
from mlspec.spec_schema.models import PythonEnvironment

ABFSS = re.compile(
    r"abfss://(?P<container>[^@/]+)@(?P<account>[^./]+)\.dfs\.core\.windows\.net(?P<path>/.*)?"
)
CONTAINER = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
QUANTITY = re.compile(r"[+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
PYTHON_VERSION = re.compile(r"3\.\d{1,2}(?:\.\d{1,2})?")
PERCENT = re.compile(r"(?:100|[1-9]?\d)%")
SECOND_SLOT_STRATEGIES = frozenset({"canary", "blue_green"})
"""Rollouts with a slot besides the serving one (the canary, the standby), which may serve another version."""
ADDRESS = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[^\s/\\*?\[\]]+")


@functools.lru_cache(maxsize=4096)
def lake_url_problem(url: str) -> str | None:
    """Why ``url`` is not ``abfss://container@account.dfs.core.windows.net/path``, or ``None``.

    Cached: every environment of every spec asks about the same few URLs."""
    match = ABFSS.fullmatch(url)
    if match is None:
        return f"{url!r} is not an ADLS Gen2 URL"
    if not CONTAINER.fullmatch(match["container"]):
        return f"container {match['container']!r}: 3-63 lowercase letters, digits and single hyphens"
    account_problem = STORAGE_ACCOUNT.problem(match["account"])
    if account_problem:
        return f"storage account {match['account']!r}: {account_problem}"
    if ".." in (match["path"] or "/").split("/"):
        return "the path must not contain '..'"
    if _URL_BREAKERS.search(match["path"] or ""):
        # Azure ML reads "${{" in a job input as a binding; "#" and "?" end a URL's path.
        return "the path must not contain '${{', '#', '?' or control characters"
    return None


_URL_BREAKERS = re.compile(r"\$\{\{|[#?\x00-\x1f\x7f]")


def check_formats(ctx: CheckContext) -> Iterator[Diagnostic]:
    m = ctx.model
    if m.workspace.subscription_id is not None:
        yield from _guid(
            ctx, m.workspace.subscription_id, ("workspace", "subscription_id"), "subscription id"
        )
    if m.workspace.tenant_id is not None:
        yield from _guid(ctx, m.workspace.tenant_id, ("workspace", "tenant_id"), "tenant id")
    for i, grant in enumerate(m.access.grants):
        yield from _guid(
            ctx,
            grant.principal.object_id,
            ("access", "grants", i, "principal", grant.principal.kind),
            "principal object id",
        )
    for name, source in m.sources.items():
        yield from _lake(ctx, source.path, ("sources", name, "path"))
    for name, transform in m.transforms.items():
        base = ("transforms", name)
        yield from _lake(ctx, transform.output.path, (*base, "output", "path"))
        if transform.python is not None:
            yield from _project_file(ctx, transform.python, (*base, "python"), ".py")
        executors = transform.spark.executors
        if executors.min > executors.max:
            yield ctx.error(
                "MLS402",
                f"executors.min ({executors.min}) > executors.max ({executors.max})",
                (*base, "spark", "executors"),
            )
    for i, moved in enumerate(m.moved):
        for field, address in (("from", moved.from_), ("to", moved.to)):
            if not ADDRESS.fullmatch(address):
                yield ctx.error(
                    "MLS414",
                    f"moved.{field} {address!r} is not a resource address",
                    ("moved", i, field),
                    "addresses look like synapse.notebook.customer_features (see `mlspec graph`)",
                )
    if m.run.seed is not None:
        yield from _project_file(ctx, m.run.seed, ("run", "seed"), ".py")
    yield from _model_formats(ctx)
    yield from _deployment_formats(ctx)
    yield from _monitoring_formats(ctx)


def _model_formats(ctx: CheckContext) -> Iterator[Diagnostic]:
    if ctx.model.model is None:
        return
    training = ctx.model.model.training
    base = ("model", "training")
    if training.estimator is not None and not DOTTED.fullmatch(training.estimator):
        yield ctx.error(
            "MLS403",
            f"estimator {training.estimator!r} is not a dotted class path",
            (*base, "estimator"),
            "e.g. sklearn.ensemble.GradientBoostingClassifier",
        )
    elif training.estimator is not None:
        yield from _estimator_package(ctx, training.estimator, training.environment, (*base, "estimator"))
    if not VM_SIZE.fullmatch(training.compute.size):
        yield ctx.error(
            "MLS403",
            f"compute size {training.compute.size!r} is not an Azure VM size name",
            (*base, "compute", "size"),
            "the full name Azure ML takes, with its tier: Standard_DS3_v2, Standard_NC6s_v3",
        )
    if training.script is not None:
        yield from _project_file(ctx, training.script, (*base, "script"), ".py")
    if not PYTHON_VERSION.fullmatch(training.environment.python):
        yield ctx.error(
            "MLS403",
            f"python {training.environment.python!r} is not a Python 3 version",
            (*base, "environment", "python"),
            'quote it: python: "3.11" (unquoted 3.10 is the number 3.1)',
        )
    compute = training.compute
    if compute.min_nodes > compute.max_nodes:
        yield ctx.error(
            "MLS402", f"min_nodes ({compute.min_nodes}) > max_nodes ({compute.max_nodes})", (*base, "compute")
        )


def _deployment_formats(ctx: CheckContext) -> Iterator[Diagnostic]:
    d = ctx.model.deployment
    if d is None:
        return
    if d.replicas.min > d.replicas.max:
        yield ctx.error(
            "MLS402",
            f"replicas.min ({d.replicas.min}) > replicas.max ({d.replicas.max})",
            ("deployment", "replicas"),
        )
    for field in ("cpu", "memory", "cpu_limit", "memory_limit"):
        value = getattr(d.resources, field)
        if value is not None and not QUANTITY.fullmatch(value):
            yield ctx.error(
                "MLS404",
                f"resources.{field} {value!r} is not a Kubernetes quantity",
                ("deployment", "resources", field),
                "e.g. cpu: 500m or 2, memory: 512Mi or 1Gi",
            )
    for i, cidr in enumerate(d.network.allow_from):
        problem = _cidr_problem(cidr)
        if problem is not None:
            yield ctx.error(
                "MLS405",
                f"allow_from {cidr!r} is not a CIDR: {problem}",
                ("deployment", "network", "allow_from", i),
                "e.g. 10.10.0.0/16",
            )
    if d.network.ip is not None:
        try:
            ip = ipaddress.IPv4Address(d.network.ip)
            if not ip.is_private:
                yield ctx.error(
                    "MLS405",
                    f"network.ip {d.network.ip} is not a private address",
                    ("deployment", "network", "ip"),
                )
        except ValueError:
            yield ctx.error(
                "MLS405",
                f"network.ip {d.network.ip!r} is not an IPv4 address",
                ("deployment", "network", "ip"),
            )
    rollout = d.rollout
    if rollout.strategy == "canary" and rollout.canary_percent is None:
        yield ctx.error(
            "MLS406",
            "a canary rollout needs canary_percent",
            ("deployment", "rollout"),
            "e.g. canary_percent: 10",
        )
    if rollout.strategy != "canary" and rollout.canary_percent is not None:
        yield ctx.warning(
            "MLS406",
            f"canary_percent is ignored by the {rollout.strategy} strategy",
            ("deployment", "rollout", "canary_percent"),
        )
    if rollout.model_version is not None and rollout.strategy not in SECOND_SLOT_STRATEGIES:
        yield ctx.error(
            "MLS406",
            f"rollout.model_version names the version of a second slot, and the {rollout.strategy} strategy "
            "has none",
            ("deployment", "rollout", "model_version"),
            "pin the one slot with deployment.model_version, or roll the version out with strategy: canary "
            "or blue_green",
        )
    for field in ("max_surge", "max_unavailable"):
        value = getattr(rollout, field)
        if isinstance(value, str) and not PERCENT.fullmatch(value):
            yield ctx.error(
                "MLS406",
                f"rollout.{field} {value!r} must be a number or a percentage",
                ("deployment", "rollout", field),
            )
    if d.log_predictions is not None:
        yield from _lake(ctx, d.log_predictions.path, ("deployment", "log_predictions", "path"))
    if d.identity is not None:
        yield from _guid(ctx, d.identity.client_id, ("deployment", "identity", "client_id"), "client id")
        if d.identity.object_id is not None:
            yield from _guid(ctx, d.identity.object_id, ("deployment", "identity", "object_id"), "object id")


def _monitoring_formats(ctx: CheckContext) -> Iterator[Diagnostic]:
    mon = ctx.model.monitoring
    if mon is None:
        return
    if mon.ground_truth is not None:
        yield from _lake(ctx, mon.ground_truth, ("monitoring", "ground_truth"))
    for i, email in enumerate(mon.notify.email):
        if not EMAIL.fullmatch(email):
            yield ctx.error(
                "MLS407", f"{email!r} is not an e-mail address", ("monitoring", "notify", "email", i)
            )
    for i, url in enumerate(mon.notify.webhook):
        if not url.startswith("https://"):
            yield ctx.error("MLS407", "webhooks must use https://", ("monitoring", "notify", "webhook", i))
    for i, alert in enumerate(mon.alerts):
        base = ("monitoring", "alerts", i)
        problem = duration_problem(alert.window)
        if problem:
            yield ctx.error(
                "MLS408",
                f"window {alert.window!r}: {problem}",
                (*base, "window"),
                "a number and m, h or d: 5m, 1h, 30d",
            )
        if problem is None:
            yield from _alert_window(ctx, alert.signal, alert.window, (*base, "window"))
        if alert.signal == "model_metric" and alert.metric is None:
            yield ctx.error(
                "MLS409", f"alert {alert.name!r} (model_metric) needs metric", base, "e.g. metric: roc_auc"
            )
        if alert.signal in ("data_drift", "data_quality") and not alert.features:
            yield ctx.error(
                "MLS409",
                f"alert {alert.name!r} ({alert.signal}) needs features",
                base,
                "list the features to watch",
            )
        if (
            alert.signal in ("data_drift", "prediction_drift", "data_quality", "error_rate")
            and not 0 <= alert.threshold <= 1
        ):
            yield ctx.error(
                "MLS409",
                f"alert {alert.name!r}: {alert.signal} thresholds are between 0 and 1",
                (*base, "threshold"),
            )
    if mon.retrain is not None and mon.retrain.schedule is not None:
        problem = cron_problem(mon.retrain.schedule)
        if problem:
            yield ctx.error(
                "MLS410",
                f"schedule {mon.retrain.schedule!r}: {problem}",
                ("monitoring", "retrain", "schedule"),
                "days 1-28 come in every month; or add a month that has the day"
                if problem.startswith("never fires")
                else 'five fields, UTC: minute hour day-of-month month day-of-week, e.g. "0 3 * * 1"',
            )
    if mon.retrain is not None:
        age = mon.retrain.max_feature_age
        problem = duration_problem(age)
        if problem:
            yield ctx.error(
                "MLS408",
                f"max_feature_age {age!r}: {problem}",
                ("monitoring", "retrain", "max_feature_age"),
                "a number and m, h or d: 12h, 1d",
            )


def _alert_window(ctx: CheckContext, signal: str, window: str, path: SpecPath) -> Iterator[Diagnostic]:
    kind = rule_kind(signal, application_insights=ctx.model.workspace.application_insights is not None)
    allowed = allowed_windows(kind)
    if allowed is not None and iso8601(window) not in allowed:
        shown = ", ".join(allowed)
        limit = f"; log alerts look back at most {LOG_MAX_LOOKBACK}" if kind == "log" else ""
        yield ctx.error(
            "MLS415",
            f"window {window!r} ({iso8601(window)}) is not one Azure Monitor accepts for {signal}, a {kind} alert{limit}",
            path,
            f"allowed windows (ISO 8601): {shown}",
        )


def _guid(ctx: CheckContext, value: str, path: SpecPath, what: str) -> Iterator[Diagnostic]:
    if not GUID.fullmatch(value):
        yield ctx.error(
            "MLS411", f"{what} {value!r} is not a GUID", path, "e.g. 00000000-0000-0000-0000-000000000000"
        )


def _lake(ctx: CheckContext, url: str, path: SpecPath) -> Iterator[Diagnostic]:
    problem = lake_url_problem(url)
    if problem:
        yield ctx.error(
            "MLS412", problem, path, "write abfss://<container>@<account>.dfs.core.windows.net/<path>"
        )


def _project_file(ctx: CheckContext, relative: str, path: SpecPath, suffix: str) -> Iterator[Diagnostic]:
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        yield ctx.error(
            "MLS413", f"{relative!r} must be a relative path inside the project", path, "e.g. src/train.py"
        )
        return
    if pure.suffix != suffix:
        yield ctx.error("MLS413", f"{relative!r} must be a {suffix} file", path)
        return
    if ctx.spec.file == "<string>":
        return
    project_dir = Path(ctx.spec.file).parent
    try:
        # Resolved, not just lexical: a symlink to /proc/self/environ would put the CI's tokens in the build.
        check_project_file(project_dir, relative)
    except ProjectFileError as problem:
        if problem.errno in (errno.ENOENT, errno.ENOTDIR):
            yield ctx.error(
                "MLS413", f"file {relative!r} does not exist", path, f"create {project_dir / pure}"
            )
        else:
            yield ctx.error(
                "MLS413",
                f"file {relative!r} cannot be used: {problem.strerror}",
                path,
                "name a regular file inside the project folder; a symlink may point only inside it",
            )


@functools.lru_cache(maxsize=1024)
def _cidr_problem(cidr: str) -> str | None:
    """Why ``cidr`` is not a network (cached: every environment of every spec asks again)."""
    try:
        ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        return str(exc)
    return None


VM_SIZE = re.compile(r"(?i)(?:standard|basic)_[a-z0-9]+(?:[_-][a-z0-9]+)*")
"""An Azure VM size name as Azure ML's compute takes it: the tier, then the size (``Standard_DS3_v2``)."""

ESTIMATOR_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn",),
    "imblearn": ("imbalanced-learn",),
    "skopt": ("scikit-optimize",),
    "torch": ("torch", "pytorch"),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu"),
}
"""Import names whose package is named otherwise (pip's name first); the rest are named as they import."""
TRAINING_BASE_PACKAGES = frozenset({"scikit-learn", "mlflow", "pandas", "pyarrow", "numpy", "scipy"})
"""What the training environment installs whatever the spec lists (``mlspec.compiler.azureml.environment``,
numpy and scipy with scikit-learn)."""


def _estimator_package(
    ctx: CheckContext, estimator: str, environment: PythonEnvironment, path: SpecPath
) -> Iterator[Diagnostic]:
    """MLS323: an estimator whose package the training environment does not install fails on Azure ML
    at its import, after the compute cluster has started."""
    module = estimator.split(".", 1)[0]
    names = [_normalised(n) for n in ESTIMATOR_DISTRIBUTIONS.get(module, (module,))]
    if any(name in TRAINING_BASE_PACKAGES for name in names):
        return
    listed = {_normalised(_requirement_name(r)) for r in (*environment.pip, *environment.conda)}
    # conda-forge names some Python packages py-<name>
    if any(name in listed or f"py-{name}" in listed for name in names):
        return
    yield ctx.warning(
        "MLS323",
        f"estimator {estimator!r} comes from {names[0]}, which the training environment does not install: "
        "the training job would fail at its import",
        path,
        f"add {names[0]} to model.training.environment.pip (with a version range)",
    )


def _requirement_name(requirement: str) -> str:
    """The package a pip or conda entry installs: ``xgboost>=2``, ``conda-forge::py-xgboost=2.0``, or the
    name a wheel's file gives (``https://…/xgboost-2.0.3-py3-none-any.whl``)."""
    text = requirement.strip()
    if "://" in text.split("@", 1)[0]:  # a bare URL: the wheel or sdist file names the package
        text = text.rsplit("/", 1)[-1].split("#", 1)[0].split("-", 1)[0]
    text = text.rsplit("::", 1)[-1]  # conda's channel::name
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    return match[1] if match else text


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
