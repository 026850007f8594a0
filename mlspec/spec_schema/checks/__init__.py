"""Semantic checks: small functions ``check_x(ctx) -> Iterable[Diagnostic]`` registered in one list.

Each check looks at one concern of the resolved, schema-valid spec and reports problems
with a stable code, a message, the spec path, its location and a hint. Code ranges:

- ``MLS0xx`` reading the file (YAML, encoding, size)
- ``MLS1xx`` schema: unknown fields, missing fields, wrong types or values
- ``MLS2xx`` environments, variables and interpolation
- ``MLS3xx`` references between spec entries, the transform DAG, columns and metrics
- ``MLS4xx`` Azure and Kubernetes naming, URL, cron and duration formats
- ``MLS5xx`` security policy
- ``MLS6xx`` what a service's artifacts need of the spec (Synapse, Azure ML, AKS, Monitor, access,
  Power BI), decided here before rendering; the renderers' own checks keep the codes
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.checks.access_rules import check_access
from mlspec.spec_schema.checks.azureml import check_azureml
from mlspec.spec_schema.checks.columns import check_columns
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.checks.deployment import check_deployment
from mlspec.spec_schema.checks.environments import check_environments
from mlspec.spec_schema.checks.formats import check_formats
from mlspec.spec_schema.checks.monitoring import check_monitoring
from mlspec.spec_schema.checks.naming import check_naming
from mlspec.spec_schema.checks.references import check_references
from mlspec.spec_schema.checks.reports import check_reports
from mlspec.spec_schema.checks.roles import check_roles
from mlspec.spec_schema.checks.security import check_security
from mlspec.spec_schema.checks.synapse import check_synapse

Check = Callable[[CheckContext], Iterable[Diagnostic]]

ALL_CHECKS: tuple[Check, ...] = (
    check_environments,
    check_references,
    check_columns,
    check_naming,
    check_formats,
    check_security,
    check_roles,
    check_deployment,
    check_access,
    check_azureml,
    check_monitoring,
    check_synapse,
    check_reports,
)


def run_checks(ctx: CheckContext) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for check in ALL_CHECKS:
        found.extend(check(ctx))
    return found


__all__ = ["ALL_CHECKS", "Check", "CheckContext", "run_checks"]
