"""The Azure provider through mlspec's own plan and apply, on a project it deploys in full (the live
test's, tests/live/transforms): plan → apply → plan without changes → drift → destroy, against
:class:`FakeAzure` through the SDKs' pipelines. Only the credential and the wire are stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("azure.mgmt.resource.deployments")
pytest.importorskip("azure.synapse.artifacts")

from mlspec.api import deploy as api_deploy
from mlspec.diagnostics import MlspecError
from mlspec.plan.plan import Action
from tests.providers.azure_fake import FakeAzure
from tests.providers.conftest import LIVE_SUBSCRIPTION

VARIABLES = {"subscription_id": LIVE_SUBSCRIPTION}


def test_a_missing_source_stops_the_plan_at_its_path(live_project: Path, fake_azure: FakeAzure) -> None:
    with pytest.raises(MlspecError) as raised:
        api_deploy.plan_environment(live_project, "live", VARIABLES)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "MLS817"
    assert diagnostic.message == (
        "source 'events': abfss://raw@mlspeclivelake.dfs.core.windows.net/mlspec-live/events/ does not exist"
    )
    assert diagnostic.location is not None and (diagnostic.location.line, diagnostic.location.column) == (
        29,
        11,
    )  # its path:
    [head] = [r for r in fake_azure.requests if r.method == "HEAD"]
    assert (head.host, head.path) == ("mlspeclivelake.blob.core.windows.net", "/raw/mlspec-live/events")
    assert not fake_azure.sent("PUT"), "nothing is deployed"


def test_plan_apply_plan_destroy_converges(live_project: Path, fake_azure: FakeAzure) -> None:
    fake_azure.lake.add("mlspeclivelake/raw/mlspec-live/events")
    first = api_deploy.plan_environment(live_project, "live", VARIABLES).plan
    creates = sorted(str(c.address) for c in first.changes if c.action is Action.CREATE)
    assert creates == [
        "access.role_assignment.synapse-workspace-storage-blob-data-contributor-lake-mlspeclivelake-curated",
        "access.role_assignment.synapse-workspace-storage-blob-data-contributor-lake-mlspeclivelake-raw",
        "synapse.notebook.daily_counts",
        "synapse.notebook.mlspec-lake-mlspec-live",
        "synapse.pipeline.mlspec-live",
    ]
    applied = api_deploy.apply_environment(live_project, "live", VARIABLES)
    assert applied.ok, [o.error for o in applied.failures]
    assert set(fake_azure.artifacts) == {
        ("notebooks", "daily_counts"),
        ("notebooks", "mlspec-lake-mlspec-live"),
        ("pipelines", "mlspec-live"),
    }
    assert len(fake_azure.resources) == 2  # the two role assignments, at the lake's containers
    assert all(
        "/providers/Microsoft.Storage/storageAccounts/mlspeclivelake/" in r["id"]
        for r in fake_azure.resources.values()
    )

    again = api_deploy.plan_environment(live_project, "live", VARIABLES).plan
    assert not again.has_changes, [
        (str(c.address), c.action) for c in again.changes if c.action is not Action.NO_OP
    ]

    fake_azure.artifacts[("notebooks", "daily_counts")]["properties"][
        "cells"
    ] = []  # edited in Synapse Studio
    drifted = api_deploy.plan_environment(live_project, "live", VARIABLES).plan
    [change] = [c for c in drifted.changes if c.action is not Action.NO_OP]
    assert (str(change.address), change.action) == ("synapse.notebook.daily_counts", Action.UPDATE)
    assert api_deploy.apply_environment(live_project, "live", VARIABLES).ok
    assert fake_azure.artifacts[("notebooks", "daily_counts")]["properties"]["cells"], (
        "the apply put the cells back"
    )

    gone = api_deploy.destroy(live_project, "live", VARIABLES)
    assert gone.ok, [o.error for o in gone.failures]
    assert fake_azure.artifacts == {} and fake_azure.resources == {}
    assert not api_deploy.plan_environment(live_project, "live", VARIABLES, destroy=True).plan.has_changes
