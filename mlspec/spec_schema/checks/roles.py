"""Grant roles: a built-in Azure role name or a role definition GUID, checked at the grant's line."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.roles import (
    BUILT_IN_ROLES,
    GUID,
    SYNAPSE_WORKSPACE_ROLES,
    canonical_role_name,
    role_definition_guid,
)

UNKNOWN_ROLE = "MLS321"


def check_roles(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every ``access.grants[].role`` is a known built-in role name or a GUID."""
    for i, grant in enumerate(ctx.model.access.grants):
        path = ("access", "grants", i, "role")
        role = grant.role
        if role.strip() in SYNAPSE_WORKSPACE_ROLES:
            yield ctx.error(
                UNKNOWN_ROLE,
                f"{role!r} is a Synapse RBAC role, assigned inside the Synapse workspace, not an Azure role",
                path,
                "assign Synapse roles with Synapse Studio or `az synapse role assignment create`; "
                "grants here are Azure RBAC role assignments",
            )
        elif role_definition_guid(role) is None:
            yield ctx.error(UNKNOWN_ROLE, f"unknown role {role!r}", path, _hint(role))
        elif not GUID.fullmatch(role) and canonical_role_name(role) != role:
            yield ctx.warning(
                UNKNOWN_ROLE,
                f"role {role!r} is spelled {canonical_role_name(role)!r} in Azure",
                path,
                "write the role name as Azure spells it",
            )


def _hint(role: str) -> str:
    close = difflib.get_close_matches(role, list(BUILT_IN_ROLES), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}? (or give a role definition GUID for a custom role)"
    return "give a built-in Azure role name (e.g. 'Reader', 'AcrPull') or a role definition GUID"
