"""Azure and Kubernetes naming rules, checked on the resolved values so a bad name never reaches a deploy.

Rules follow Azure's "naming rules and restrictions for Azure resources" page and the
Kubernetes object name rules (DNS-1123).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.redaction import printable
from mlspec.spec_schema.checks.context import CheckContext


@dataclass(frozen=True)
class NameRule:
    what: str
    pattern: re.Pattern[str]
    min_length: int
    max_length: int
    rule: str

    def problem(self, value: str) -> str | None:
        if not self.min_length <= len(value) <= self.max_length:
            return f"{len(value)} characters; {self.what} names are {self.min_length}-{self.max_length}"
        if not self.pattern.fullmatch(value):
            return self.rule
        return None


def _rule(what: str, pattern: str, lo: int, hi: int, rule: str) -> NameRule:
    return NameRule(what, re.compile(pattern), lo, hi, rule)


PROJECT = _rule(
    "project",
    r"[a-z](?:[a-z0-9-]*[a-z0-9])?",
    3,
    24,
    "lowercase letters, digits and hyphens; starts with a letter, ends with a letter or digit",
)
STORAGE_ACCOUNT = _rule("storage account", r"[a-z0-9]+", 3, 24, "lowercase letters and digits only")
KEY_VAULT = _rule(
    "key vault",
    r"[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]",
    3,
    24,
    "letters, digits and single hyphens; starts with a letter, ends with a letter or digit",
)
CONTAINER_REGISTRY = _rule(
    "container registry", r"[A-Za-z0-9]+", 5, 50, "letters and digits only (no hyphens)"
)
AML_WORKSPACE = _rule(
    "Azure ML workspace",
    r"[A-Za-z0-9][A-Za-z0-9_-]*",
    3,
    33,
    "letters, digits, hyphens and underscores; starts with a letter or digit",
)
SYNAPSE = _rule(
    "Synapse workspace",
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?",
    1,
    50,
    "lowercase letters, digits and hyphens; starts and ends with a letter or digit",
)
SPARK_POOL = _rule("Spark pool", r"[A-Za-z][A-Za-z0-9]*", 1, 15, "letters and digits; starts with a letter")
AKS = _rule(
    "AKS cluster",
    r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?",
    1,
    63,
    "letters, digits, hyphens and underscores; starts and ends with a letter or digit",
)
LOG_ANALYTICS = _rule(
    "Log Analytics workspace",
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?",
    4,
    63,
    "letters, digits and hyphens; starts and ends with a letter or digit",
)
APP_INSIGHTS = _rule("Application Insights", r"[^%&\\?/]+", 1, 255, "no %, &, \\, ? or /")
RESOURCE_GROUP = _rule(
    "resource group",
    r"[-\w.()]*[-\w()]",
    1,
    90,
    "letters, digits, -, _, ., ( and ); must not end with a period",
)
LOCATION = _rule(
    "Azure region", r"[a-z][a-z0-9]*", 2, 40, "a region name such as westeurope (lowercase, no spaces)"
)
AML_MODEL = _rule(
    "model",
    r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    1,
    # Azure ML names are at most 255 characters, and the model's name is the stem of longer ones: its
    # components (an "m" prefix when it starts with a digit, then "_register") and schedules ("-monitor").
    255 - len("m_register"),
    "letters, digits, -, _ and .; starts with a letter or digit (its components and schedules add a suffix)",
)
AML_COMPUTE = _rule(
    "Azure ML compute",
    r"[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?",
    2,
    16,
    "letters, digits and hyphens; starts with a letter",
)
DNS_LABEL = _rule(
    "Kubernetes",
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?",
    1,
    63,
    "a DNS-1123 label: lowercase letters, digits and hyphens, starting and ending with a letter or digit",
)
ENDPOINT = _rule(
    "endpoint",
    r"[a-z](?:[a-z0-9-]*[a-z0-9])?",
    3,
    32,
    "lowercase letters, digits and hyphens; starts with a letter (it prefixes Kubernetes object names)",
)
DATASET = _rule(
    "source/transform",
    r"[A-Za-z_][A-Za-z0-9_]*",
    1,
    64,
    "letters, digits and underscores, not starting with a digit (it is a Spark SQL view and a notebook name)",
)
ALERT = _rule("alert", r"[A-Za-z0-9][A-Za-z0-9_-]*", 1, 64, "letters, digits, hyphens and underscores")
REPORT = _rule(
    "report", r"[A-Za-z0-9][A-Za-z0-9 _-]*", 1, 64, "letters, digits, spaces, hyphens and underscores"
)
MANAGED_IDENTITY = _rule(
    "user-assigned managed identity",
    r"[A-Za-z0-9][A-Za-z0-9_-]*",
    3,
    128,
    "letters, digits, hyphens and underscores; starts with a letter or digit",
)
SECRET_NAME = _rule("Key Vault secret", r"[A-Za-z0-9-]+", 1, 127, "letters, digits and hyphens")
ENVIRONMENT = _rule(
    "environment",
    r"[a-z][a-z0-9]*",
    1,
    16,
    "lowercase letters and digits, starting with a letter (it ends up in Azure resource names)",
)


# Azure Resource Manager's tag limits ("Use tags to organize your Azure resources", Limitations).
# Tags never become Kubernetes labels: the AKS renderer labels objects with the project, endpoint
# and environment names, which have their own rules above.
TAG_NAME_MAX, TAG_VALUE_MAX, TAGS_PER_RESOURCE = 512, 256, 50
TAG_NAME_FORBIDDEN = frozenset("<>%&\\?/")
TAG_RESERVED_PREFIXES = ("microsoft", "azure", "windows")
MLSPEC_TAGS = ("mlspec-project",)
"""Tags mlspec puts on every resource it deploys besides the project's own."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_naming(ctx: CheckContext) -> Iterator[Diagnostic]:
    m = ctx.model
    yield from _name(ctx, PROJECT, m.project.name, ("project", "name"))
    yield from _tags(ctx)
    ws = m.workspace
    workspace_rules = (
        ("resource_group", RESOURCE_GROUP),
        ("location", LOCATION),
        ("storage_account", STORAGE_ACCOUNT),
        ("key_vault", KEY_VAULT),
        ("container_registry", CONTAINER_REGISTRY),
        ("machine_learning", AML_WORKSPACE),
        ("synapse", SYNAPSE),
        ("spark_pool", SPARK_POOL),
        ("kubernetes", AKS),
        ("log_analytics", LOG_ANALYTICS),
        ("application_insights", APP_INSIGHTS),
    )
    for key, rule in workspace_rules:
        value = getattr(ws, key)
        if value is not None:
            yield from _name(ctx, rule, value, ("workspace", key))
    if ws.synapse is not None and "-ondemand" in ws.synapse:
        yield ctx.error(
            "MLS401", "Synapse workspace names must not contain '-ondemand'", ("workspace", "synapse")
        )
    for name in m.sources:
        yield from _name(ctx, DATASET, name, ("sources", name), at_key=True)
    for name, transform in m.transforms.items():
        yield from _name(ctx, DATASET, name, ("transforms", name), at_key=True)
        if transform.spark.pool is not None:
            yield from _name(ctx, SPARK_POOL, transform.spark.pool, ("transforms", name, "spark", "pool"))
    for name, secret in m.access.secrets.items():
        yield from _name(ctx, SECRET_NAME, secret.name, ("access", "secrets", name, "name"))
        yield from _name(ctx, KEY_VAULT, secret.key_vault, ("access", "secrets", name, "key_vault"))
    if m.model is not None:
        yield from _name(ctx, AML_MODEL, m.model.name, ("model", "name"))
        yield from _name(
            ctx, AML_COMPUTE, m.model.training.compute.cluster, ("model", "training", "compute", "cluster")
        )
    if m.deployment is not None:
        yield from _name(ctx, ENDPOINT, m.deployment.endpoint, ("deployment", "endpoint"))
        yield from _name(ctx, DNS_LABEL, m.deployment.namespace, ("deployment", "namespace"))
        identity = m.deployment.identity
        if identity is not None and identity.name is not None:
            yield from _name(ctx, MANAGED_IDENTITY, identity.name, ("deployment", "identity", "name"))
    if m.monitoring is not None:
        for i, alert in enumerate(m.monitoring.alerts):
            yield from _name(ctx, ALERT, alert.name, ("monitoring", "alerts", i, "name"))
    for i, report in enumerate(m.reports):
        yield from _name(ctx, REPORT, report.name, ("reports", i, "name"))
    for name in m.environments:
        yield from _name(ctx, ENVIRONMENT, name, ("environments", name), at_key=True, source=True)


def _tags(ctx: CheckContext) -> Iterator[Diagnostic]:
    tags = ctx.model.project.tags
    base: SpecPath = ("project", "tags")
    hint = (
        f"Azure tag names: 1-{TAG_NAME_MAX} characters, none of < > % & \\ ? / or control characters, "
        f"not starting with {', '.join(TAG_RESERVED_PREFIXES)}; values: at most {TAG_VALUE_MAX} characters"
    )
    room = TAGS_PER_RESOURCE - len(MLSPEC_TAGS)
    if len(tags) > room:
        yield ctx.error(
            "MLS401",
            f"{len(tags)} tags: Azure takes {TAGS_PER_RESOURCE} tags on a resource and mlspec sets "
            f"{len(MLSPEC_TAGS)} ({', '.join(MLSPEC_TAGS)}), which leaves {room}",
            base,
            "keep the tags that cost reporting and policy need",
            at_key=True,
        )
    for key, value in tags.items():
        problem = _tag_name_problem(key)
        if problem:
            yield ctx.error(
                "MLS401",
                f"invalid tag name '{printable(key, 60)}': {problem}",
                (*base, key),
                hint,
                at_key=True,
            )
        if len(value) > TAG_VALUE_MAX:
            problem = f"{len(value)} characters; Azure takes at most {TAG_VALUE_MAX}"
        elif _CONTROL.search(value):
            problem = "control characters are not allowed"
        else:
            continue
        yield ctx.error(
            "MLS401", f"invalid tag value '{printable(value, 60)}' for {key!r}: {problem}", (*base, key), hint
        )


def _tag_name_problem(key: str) -> str | None:
    if not key:
        return "a tag name cannot be empty"
    if len(key) > TAG_NAME_MAX:
        return f"{len(key)} characters; Azure takes at most {TAG_NAME_MAX}"
    refused = sorted(set(key) & TAG_NAME_FORBIDDEN)
    if refused:
        return f"Azure refuses {' '.join(refused)} in tag names"
    if _CONTROL.search(key):
        return "control characters are not allowed"
    if key.lower().startswith(TAG_RESERVED_PREFIXES):
        return f"the prefixes {', '.join(TAG_RESERVED_PREFIXES)} are reserved for Azure"
    return None


def _name(
    ctx: CheckContext,
    rule: NameRule,
    value: str,
    path: SpecPath,
    *,
    at_key: bool = False,
    source: bool = False,
) -> Iterator[Diagnostic]:
    problem = rule.problem(value)
    if problem is None:
        return
    message = f"invalid {rule.what} name {value!r}: {problem}"
    hint = f"{rule.what} names: {rule.min_length}-{rule.max_length} characters, {rule.rule}"
    if source:
        yield ctx.source_error("MLS401", message, path, hint, at_key=at_key)
    else:
        yield ctx.error("MLS401", message, path, hint, at_key=at_key)
