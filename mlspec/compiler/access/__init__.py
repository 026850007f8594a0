"""Access: ARM role assignments for the spec's grants and for the identities the artifacts run as.

One template, ``access/role-assignments.json`` (resource-group deployment):

- ``access.identity.<endpoint>`` (``/resources/0``, when there is a deployment without
  ``deployment.identity``): the scoring pods' user-assigned managed identity with its federated
  credential for ``system:serviceaccount:<namespace>:<endpoint>`` nested inside; the template outputs
  its client id (``servingIdentityClientId``), which the AKS ServiceAccount and SecretProviderClass
  carry as ``mlspec:output:access.identity.<endpoint>.client_id``. With ``deployment.identity.name``
  the identity exists and ``/resources/0`` (still ``access.identity.<endpoint>``) is the federated
  credential added to it; with ``client_id`` only nothing is rendered for it (MLS653 warns).
- ``access.role_assignment.<principal>-<role>-<scope>``: one ``Microsoft.Authorization/roleAssignments``
  (2022-04-01) per grant and per implied need (see :mod:`.identities`): the Azure ML workspace reads
  the training data's container and publishes monitoring rows, Synapse reads and writes the lake
  containers of sources and transforms, AKS's kubelet pulls from the registry, the scoring pods read
  their Key Vaults and load the model (Reader on the workspace), the retrain trigger submits Azure ML
  runs. A grant repeating one of these (same object id, role and resolved scope) is merged into it
  (:mod:`.merge`). An assignment to an identity the build creates depends on it (the compute cluster,
  the retrain trigger, the pods' identity: in the graph, and with ``dependsOn`` inside this template).

Names are ``[guid(<scope id>, <principal>, <role GUID>)]`` -- deterministic, so a redeploy finds the
same assignment; for a system identity the principal part is the owning resource's ID (``reference()``
is not allowed in names). Role definitions are
``[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '<GUID>')]`` from
:mod:`mlspec.spec_schema.roles`. A source/transform scope is the container holding its path.
Another role, principal or scope makes a new assignment, so ``name``, ``scope``, ``properties.roleDefinitionId``,
``properties.principalId`` and ``properties.principalType`` are immutable; a description updates in place.
"""

from __future__ import annotations

from mlspec.compiler.access.checks import check
from mlspec.compiler.access.template import provides, render

__all__ = ["check", "provides", "render"]
