"""Which Azure resource a grant's ``scope`` names, as far as the spec decides it.

A grant's scope is a workspace key (``machine_learning``, ``key_vault``, ...), ``resource_group``,
``subscription``, or a source/transform name, which means the ADLS Gen2 *container* holding its path.
Shared by the access check (duplicates and scopes the template cannot assign on, at the grant's line)
and the access renderer (which turns the scope into an ARM scope).
"""

from __future__ import annotations

from mlspec.spec_schema.checks.formats import ABFSS
from mlspec.spec_schema.models import MLProject

SUBSCRIPTION_SCOPE_PROBLEM = "a subscription-wide grant needs a subscription-level deployment; this template deploys to the resource group"


def dataset_url(model: MLProject, name: str) -> str | None:
    """The lake URL of a source, or the output URL of a transform."""
    if name in model.sources:
        return model.sources[name].path
    if name in model.transforms:
        return model.transforms[name].output.path
    return None


def scope_identity(model: MLProject, scope: str) -> tuple[str, ...]:
    """What a role assignment's scope resolves to: two scopes with one identity are one assignment scope."""
    url = dataset_url(model, scope)
    match = ABFSS.fullmatch(url) if url is not None else None
    if match is not None:
        return ("container", match["account"].lower(), match["container"])
    return ("scope", scope)
