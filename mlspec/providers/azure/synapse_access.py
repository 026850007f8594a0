"""Synapse RBAC role assignments (``synapse:role_assignment``), through the workspace's access-control
API (``azure-synapse-accesscontrol``'s ``AccessControlClient``).

The payload names the role by its Synapse name ("Synapse Compute Operator"); the API takes the role's
id, read once per provider from the workspace's role definitions (an unknown name is refused, listing
the names the workspace knows). ``principalId`` is already a GUID: apply replaced its marker before
calling the provider.

Idempotence and ownership: the assignment's id is a UUID derived from the role id, the principal and
the scope (:data:`ASSIGNMENT_NAMESPACE`), so a second run never makes a duplicate. Synapse role
assignments carry no tags, and that id is the same for every project and environment granting the
same role to the same principal at the same scope: an assignment create finds under it may be another
project's as well as the one a create retried after a lost state write made. It is adopted, with the
output ``adopted: "true"`` (kept by update), and the delete of an adopted assignment revokes nothing
(state only forgets it): a crash-retry then leaks an assignment rather than revoke another project's
grant. Only an assignment create made itself (a PUT) is ever deleted. An assignment under any other id
is not mlspec's. An assignment of the same role to the same principal at the same scope that someone
made by hand has another id: Synapse refuses a second one (409), and create refuses too, naming it,
rather than adopt it (a later destroy would revoke a grant someone else made and may rely on). Every
request that changes or removes an assignment (update's removal of the old one, delete) goes to
mlspec's derived id of the payload the state records, never to another id, whether found by a look-up
or recorded in the state (an older mlspec recorded the hand-made assignment's id when it adopted one:
such an entry's delete leaves that assignment alone, and its read reports mlspec's as missing, so the
next apply's create refuses and says why).

Synapse stores role id, principal, principal type and scope, and nothing else: reading compares those
(the payload's ``description`` is mlspec's and is never drift). Role assignments cannot be changed in
place, and a change of role, principal or scope is a new assignment with a new id, so ``update`` makes
the new assignment *first* and only then deletes the recorded one (when its id differs): the principal
never goes without the access the spec gives it in between, and a retried update converges (the new
one is adopted, the old one's delete finds nothing). A change of ``description`` alone sends nothing.
"""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mlspec.contract.graph import Address
from mlspec.contract.outputs import sent_payload
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.azure.errors import azure_error
from mlspec.providers.azure.session import AzureSession, raw_json
from mlspec.providers.base import DeployRequest, LiveObject, ProviderError, ProviderResult
from mlspec.redaction import printable

if TYPE_CHECKING:
    from azure.synapse.accesscontrol import AccessControlClient

PROVIDER_TYPE = "synapse:role_assignment"
ADOPTED = "adopted"
"""The output (``"true"``) of an assignment create found already under mlspec's id: adopted, so
delete and an update's removal of it leave it in place."""
ASSIGNMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://mlspec/synapse/role-assignment")
"""The namespace of the role assignment ids mlspec derives (never change it: state holds them)."""


class SynapseRoleAssignments:
    """Creates, reads and deletes Synapse RBAC role assignments of the environment's workspace."""

    provider_types = frozenset({PROVIDER_TYPE})

    def __init__(self, session: AzureSession, project: str) -> None:
        self.session = session
        self.project = project

    @staticmethod
    def handles(provider_type: str) -> bool:
        return provider_type == PROVIDER_TYPE

    # --- the provider operations ---------------------------------------------------------------------

    def read(self, address: Address, current: ResourceState) -> LiveObject | None:
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        wanted = _properties(address, sent.properties)
        live = self._get(address, self.assignment_id(address, wanted))
        if live is None:
            return None
        seen = self._as_sent(address, live, wanted)
        if seen == sent.properties:
            return LiveObject(sent)
        return LiveObject(Payload(seen, sent.attachments))

    def create(self, request: DeployRequest) -> ProviderResult:
        wanted = _properties(request.address, request.payload.properties)
        assignment_id = self.assignment_id(request.address, wanted)
        found = self._get(request.address, assignment_id)
        if found is not None:
            if self._as_sent(request.address, found, wanted) != wanted:
                raise ProviderError(
                    request.address,
                    f"the Synapse role assignment {assignment_id} already exists in "
                    f"{self.session.workspace.synapse} and grants something else",
                    "mlspec has no `import`: delete that role assignment in Synapse Studio (Manage > "
                    "Access control) and apply again",
                )
            # The derived id is the same for every project (and environment) that grants this role to
            # this principal at this scope, so an assignment found under it may be another project's,
            # not one this create made before a lost state write: it is adopted, and a later delete
            # leaves it in place (it only forgets it). A create retried after a crash then leaves its
            # own assignment behind (a leak) rather than revoke a grant someone else relies on.
            return ProviderResult(assignment_id, {ADOPTED: "true"})
        return ProviderResult(self._put(request.address, assignment_id, wanted))

    def update(self, request: DeployRequest, current: ResourceState) -> ProviderResult:
        wanted = _properties(request.address, request.payload.properties)
        old = self._recorded_id(request.address, current)
        if old and old.lower() == self.assignment_id(request.address, wanted).lower():
            # The same assignment (only the description changed): still the recorded one, adopted or
            # not; made again if it was removed behind mlspec's back (then it is mlspec's).
            found = self._get(request.address, old)
            if found is not None and self._as_sent(request.address, found, wanted) == wanted:
                return ProviderResult(old, {ADOPTED: "true"} if adopted(current) else {})
        result = self.create(request)
        if old and old.lower() != result.provider_id.lower() and not adopted(current):
            self._delete(request.address, old)
        return result

    def delete(self, address: Address, current: ResourceState) -> None:
        if adopted(current):
            return  # found at create, not shown to be mlspec's: forgotten, never revoked
        assignment_id = self._recorded_id(address, current)
        if assignment_id:
            self._delete(address, assignment_id)

    def describe(self, address: Address, result: ProviderResult) -> str:
        return (
            f"Synapse role assignment {printable(result.provider_id, 80)} ({printable(address.name, 120)}) "
            f"in {self.session.workspace.synapse}"
        )

    # --- ids and roles ------------------------------------------------------------------------------

    def _recorded_id(self, address: Address, current: ResourceState) -> str:
        """mlspec's id of the assignment the state records: derived from its payload as sent, not read
        from its provider id (which an older mlspec set to a hand-made assignment's when it adopted one,
        and which must never be deleted). Empty when the workspace no longer has the payload's role:
        no assignment of it can exist."""
        sent = sent_payload(current.payload, current.resolved, current.sent_attachments)
        properties = _properties(address, sent.properties)
        role = str(properties.get("role", "")).lower()
        if not any(name.lower() == role for name in self._roles):
            return ""
        return self.assignment_id(address, properties)

    def assignment_id(self, address: Address, properties: dict[str, Any]) -> str:
        """The id mlspec gives the assignment of ``properties``: the same for the same role, principal
        and scope, in every run and on every machine."""
        role_id = self.role_id(address, str(properties.get("role", "")))
        key = "|".join(
            (role_id.lower(), str(properties["principalId"]).lower(), _scope_key(properties["scope"]))
        )
        return str(uuid.uuid5(ASSIGNMENT_NAMESPACE, key))

    def role_id(self, address: Address, role: str) -> str:
        """The id of the Synapse role called ``role``; a ProviderError listing the known ones if none is."""
        for name, role_id in self._roles.items():
            if name.lower() == role.lower():
                return role_id
        known = ", ".join(sorted(self._roles)) or "none"
        raise ProviderError(
            address,
            f"Synapse workspace {self.session.workspace.synapse} has no role {printable(role, 80)!r}",
            f"use one of the roles it knows: {known}",
        )

    @cached_property
    def client(self) -> AccessControlClient:
        from azure.synapse.accesscontrol import AccessControlClient

        self.session.workspace.require("synapse", "deploying Synapse role assignments")
        return AccessControlClient(
            self.session.credential, self.session.workspace.synapse_endpoint, **self.session.client_options
        )

    @cached_property
    def _roles(self) -> dict[str, str]:
        """The workspace's role definitions, name to id, read once per provider."""
        from azure.core.exceptions import HttpResponseError

        try:
            definitions = self.client.role_definitions.list_role_definitions(cls=raw_json)
        except HttpResponseError as exc:
            raise azure_error(
                f"Synapse workspace {self.session.workspace.synapse}",
                "read of its role definitions",
                exc,
                self._needs(),
            ) from None
        if isinstance(definitions, dict):  # the list is a bare JSON array; tolerate {"value": [...]}
            definitions = definitions.get("value")
        return {
            str(d["name"]): str(d["id"])
            for d in definitions or []
            if isinstance(d, dict) and d.get("name") and d.get("id")
        }

    def _role_name(self, role_id: str) -> str:
        for name, known in self._roles.items():
            if known.lower() == role_id.lower():
                return name
        return role_id

    # --- requests -----------------------------------------------------------------------------------

    def _get(self, address: Address, assignment_id: str) -> dict[str, Any] | None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            found = self.client.role_assignments.get_role_assignment_by_id(assignment_id, cls=raw_json)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            raise azure_error(address, "read", exc, self._needs()) from None
        return found if isinstance(found, dict) else None

    def _put(self, address: Address, assignment_id: str, wanted: dict[str, Any]) -> str:
        """Create the assignment under mlspec's id; refused when Synapse holds the same grant under
        another id (made outside mlspec: never adopted)."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        role_id = self.role_id(address, str(wanted["role"]))
        operations = self.client.role_assignments
        try:
            operations.create_role_assignment(
                assignment_id,
                role_id,
                str(wanted["principalId"]),
                str(wanted["scope"]),
                principal_type=wanted.get("principalType") or None,
                cls=raw_json,
            )
        except ResourceExistsError as exc:  # the same grant under another id (made by hand)
            existing = self._same_grant(address, role_id, wanted)
            if existing and existing.lower() != assignment_id.lower():
                raise ProviderError(
                    address,
                    f"Synapse workspace {self.session.workspace.synapse} already grants "
                    f"{printable(str(wanted['role']), 80)!r} to {printable(str(wanted['principalId']), 80)} "
                    f"at {printable(str(wanted['scope']), 200)} in role assignment {printable(existing, 80)}, "
                    "made outside mlspec; it is not adopted (a destroy would then revoke it)",
                    "the grant exists already, made outside mlspec: remove it in Synapse Studio (Manage > "
                    "Access control) so mlspec manages it, or drop it from the spec, then apply again",
                ) from None
            raise azure_error(address, "create", exc, self._needs()) from None
        except HttpResponseError as exc:
            raise azure_error(address, "create", exc, self._needs()) from None
        return assignment_id

    def _same_grant(self, address: Address, role_id: str, wanted: dict[str, Any]) -> str | None:
        """The id of an assignment that grants what ``wanted`` does, to name it in a refusal (never to
        adopt or delete it)."""
        from azure.core.exceptions import HttpResponseError

        try:
            listed = self.client.role_assignments.list_role_assignments(
                role_id=role_id,
                principal_id=str(wanted["principalId"]),
                scope=str(wanted["scope"]),
                cls=raw_json,
            )
        except HttpResponseError as exc:
            raise azure_error(address, "list", exc, self._needs()) from None
        items = listed.get("value") if isinstance(listed, dict) else None
        for item in items or []:
            if isinstance(item, dict) and item.get("id") and self._as_sent(address, item, wanted) == wanted:
                return str(item["id"])
        return None

    def _delete(self, address: Address, assignment_id: str) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self.client.role_assignments.delete_role_assignment_by_id(assignment_id)
        except ResourceNotFoundError:
            pass  # deleted already: a retried delete, or removed behind mlspec's back
        except HttpResponseError as exc:
            raise azure_error(
                address, f"delete of role assignment {assignment_id}", exc, self._needs()
            ) from None

    def _as_sent(self, address: Address, live: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
        """What Synapse holds, in the payload's shape: the role by name, the values mlspec sent where
        Synapse spells them otherwise (case, a leading ``/``); ``description`` is mlspec's own."""
        seen = dict(wanted)
        role_id = str(live.get("roleDefinitionId") or "")
        if role_id.lower() != self.role_id(address, str(wanted["role"])).lower():
            seen["role"] = self._role_name(role_id)
        principal = str(live.get("principalId") or "")
        if principal.lower() != str(wanted["principalId"]).lower():
            seen["principalId"] = principal
        scope = str(live.get("scope") or "")
        if _scope_key(scope) != _scope_key(wanted["scope"]):
            seen["scope"] = scope
        principal_type = live.get("principalType")
        if principal_type and str(principal_type).lower() != str(wanted.get("principalType", "")).lower():
            seen["principalType"] = str(principal_type)
        return seen

    def _needs(self) -> str:
        return f"Synapse Administrator (or Synapse Access Administrator) on {self.session.workspace.synapse}"


def adopted(current: ResourceState) -> bool:
    """Whether the state records the assignment as adopted (found at create, not made by it)."""
    return str((current.outputs or {}).get(ADOPTED, "")).lower() == "true"


def _properties(address: Address, properties: Any) -> dict[str, Any]:
    if not isinstance(properties, dict) or not all(
        properties.get(key) for key in ("role", "principalId", "scope")
    ):
        raise ProviderError(
            address, "a Synapse role assignment needs role, principalId and scope in its payload"
        )
    return properties


def _scope_key(scope: Any) -> str:
    return str(scope).strip("/").lower()
