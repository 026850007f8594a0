"""The full cycle on a real subscription: plan → apply → plan (no changes) → destroy, of the project in
tests/live/transforms (Synapse notebooks and pipeline, the lake role assignments).

Runs only with ``AZURE_SUBSCRIPTION_ID`` set and a credential ``DefaultAzureCredential`` can use
(``az login``, a service principal, workload identity); otherwise it skips, saying which is missing.
The resources it deploys into must exist (README.md, "Running against Azure"): set
``MLSPEC_LIVE_RESOURCE_GROUP``, ``MLSPEC_LIVE_SYNAPSE``, ``MLSPEC_LIVE_SPARK_POOL`` and
``MLSPEC_LIVE_LAKE_ACCOUNT`` to name them. The state is local, in a temporary folder.

``MLSPEC_LIVE_SPEC`` (and ``MLSPEC_LIVE_ENV``, default ``live``) run the same cycle on a project of
your own instead — a whole landing zone's, with Azure ML, AKS and Power BI — with its own variables
from ``MLSPEC_LIVE_VAR_FILE`` (a YAML file of NAME: VALUE) and its own state backend.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mlspec.diagnostics import MlspecError

pytestmark = pytest.mark.live

PROJECT = Path(__file__).resolve().parent / "transforms"
SETTINGS = {
    "resource_group": "MLSPEC_LIVE_RESOURCE_GROUP",
    "synapse": "MLSPEC_LIVE_SYNAPSE",
    "spark_pool": "MLSPEC_LIVE_SPARK_POOL",
    "lake_account": "MLSPEC_LIVE_LAKE_ACCOUNT",
}


@pytest.fixture
def variables() -> dict[str, str]:
    subscription = os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not subscription:
        pytest.skip("live Azure test: set AZURE_SUBSCRIPTION_ID (and sign in) to run it")
    pytest.importorskip("azure.identity")
    from mlspec.providers.azure.credentials import default_credential
    from mlspec.providers.azure.workspace import ARM_SCOPE

    try:
        default_credential(ARM_SCOPE, "live")
    except MlspecError as error:
        pytest.skip(f"live Azure test: {error.diagnostics[0].message}")
    values = {"subscription_id": subscription}
    values.update({name: os.environ[env] for name, env in SETTINGS.items() if os.environ.get(env)})
    return values


def _project(variables: dict[str, str], tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """The spec, environment and variables of the cycle: the user's project, or a copy of the live one."""
    own = os.environ.get("MLSPEC_LIVE_SPEC")
    if own:
        import yaml

        var_file = os.environ.get("MLSPEC_LIVE_VAR_FILE")
        extra = yaml.safe_load(Path(var_file).read_text(encoding="utf-8")) if var_file else {}
        return Path(own), os.environ.get("MLSPEC_LIVE_ENV", "live"), {**variables, **(extra or {})}
    shutil.copytree(PROJECT, tmp_path / "live")
    return tmp_path / "live" / "mlproject.yaml", "live", variables


def test_plan_apply_plan_destroy_on_a_real_subscription(variables: dict[str, str], tmp_path: Path) -> None:
    from mlspec.api import deploy

    spec, environment, values = _project(variables, tmp_path)
    try:
        assert deploy.plan_environment(spec, environment, values).plan.has_changes
        applied = deploy.apply_environment(spec, environment, values)
        assert applied.ok, [str(o.error) for o in applied.failures]
        again = deploy.plan_environment(spec, environment, values).plan
        assert not again.has_changes, [str(c.address) for c in again.changes if c.action.value != "no-op"]
    finally:
        destroyed = deploy.destroy(spec, environment, values, allow_destroy=True)
    assert destroyed.ok, [str(o.error) for o in destroyed.failures]
    assert not deploy.plan_environment(spec, environment, values, destroy=True).plan.has_changes
