"""The outputs the local provider reports: deterministic local stand-ins, never Azure's values.

- ``access.identity.*``: ``client_id`` and ``principal_id`` are UUIDv5s over the environment, the
  address and the attribute (no identity exists locally; the same every run, so a retried apply
  reports the same ones);
- ``aml.compute.*``: ``principal_id`` likewise (the cluster's identity);
- ``acr.task.*``: ``image_digest`` is ``sha256:`` over the build-context files the task ships, as
  stored (a changed Dockerfile or scoring script gives a new digest, as a rebuild would);
- ``aml.pipeline.<model>``: ``model_version`` is the newest version of ``<model>`` in the project's
  local MLflow registry (``.mlspec/mlruns/models/<model>/version-<n>/``, which ``mlspec run``
  fills), read from its folder names without importing MLflow; :data:`UNREGISTERED` before any run
  registered one (``mlspec run`` applies before it trains);
- ``monitor.data_collection_endpoint.*``: ``logs_ingestion_endpoint`` is an ``https://`` URL under
  the reserved ``.invalid`` domain (nothing listens there); ``monitor.data_collection_rule.*``:
  ``immutable_id`` is ``dcr-`` and the hex of a UUIDv5 over the environment and the address;
- ``powerbi.report.*``: ``workspace_id`` and ``semantic_model_id`` are UUIDv5s like the identity's
  (nothing is published locally; the local report is rendered by ``mlspec run``);
- ``workspace.*`` (:func:`target_outputs`): ``tenant_id`` is a UUIDv5 over the environment (a spec
  that sets ``workspace.tenant_id`` has its value written by the build itself, so no marker asks for
  it); ``application_insights_connection_string`` names a UUIDv5 instrumentation key and an ingestion
  endpoint under the reserved ``.invalid`` domain, so nothing is ever sent anywhere.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

from mlspec.contract.graph import Address
from mlspec.contract.outputs import TARGET, TARGET_OUTPUTS, outputs_of
from mlspec.providers.base import DeployRequest

STAND_IN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://mlspec.dev/local-provider/outputs")
"""Every stand-in UUID is derived in this namespace (so none can be mistaken for a real Azure id)."""
UNREGISTERED = "unregistered"
"""``model_version`` when the local registry holds no version of the model yet."""
_VERSION_FOLDER = re.compile(r"version-(\d{1,9})")


def stand_in_uuid(environment: str, subject: str) -> str:
    return str(uuid.uuid5(STAND_IN_NAMESPACE, f"{environment}/{subject}"))


def target_outputs(environment: str) -> dict[str, str]:
    """What the local environment supplies for ``workspace.*`` markers: every one of
    :data:`~mlspec.contract.outputs.TARGET_OUTPUTS`, as a stand-in."""
    supplied: dict[str, str] = {}
    for output in TARGET_OUTPUTS:
        stand_in = stand_in_uuid(environment, f"{TARGET}.{output.attribute}")
        if output.attribute == "application_insights_connection_string":
            value = f"InstrumentationKey={stand_in};IngestionEndpoint=https://ingest.local.invalid/"
        else:  # tenant_id, and any other id the target supplies
            value = stand_in
        supplied[output.attribute] = value
    return supplied


def produced_outputs(request: DeployRequest, project_dir: Path, environment: str) -> dict[str, str]:
    """The outputs of the resource ``request`` created or updated (none for most kinds)."""
    address = request.address
    kind = (address.service, address.kind)
    if kind in (("access", "identity"), ("powerbi", "report")):
        return {
            attribute: stand_in_uuid(environment, f"{address}.{attribute}")
            for attribute in outputs_of(address)
        }
    if kind == ("aml", "compute"):
        return {"principal_id": stand_in_uuid(environment, f"{address}.principal_id")}
    if kind == ("acr", "task"):
        digest = hashlib.sha256()
        for path, content in sorted(request.files.items()):
            digest.update(f"{path}\0{len(content)}\0".encode())
            digest.update(content)
        return {"image_digest": "sha256:" + digest.hexdigest()}
    if kind == ("aml", "pipeline"):
        return {"model_version": newest_model_version(project_dir, address)}
    if kind == ("monitor", "data_collection_endpoint"):
        host = uuid.UUID(stand_in_uuid(environment, str(address))).hex[:16]
        return {"logs_ingestion_endpoint": f"https://dce-{host}.ingest.local.invalid"}
    if kind == ("monitor", "data_collection_rule"):
        return {"immutable_id": "dcr-" + uuid.UUID(stand_in_uuid(environment, str(address))).hex}
    return {}


def observed_outputs(address: Address, project_dir: Path) -> dict[str, str]:
    """Outputs that change without an apply, read again: the newest registered model version."""
    if (address.service, address.kind) == ("aml", "pipeline"):
        return {"model_version": newest_model_version(project_dir, address)}
    return {}


def newest_model_version(project_dir: Path, address: Address) -> str:
    """The newest version of the model ``address.name`` in the local MLflow file store, or :data:`UNREGISTERED`."""
    folder = project_dir / ".mlspec" / "mlruns" / "models" / address.name
    try:
        names = os.listdir(folder)
    except OSError:
        return UNREGISTERED
    versions = [int(m[1]) for name in names if (m := _VERSION_FOLDER.fullmatch(name))]
    return str(max(versions)) if versions else UNREGISTERED
