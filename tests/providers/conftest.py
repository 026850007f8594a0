"""Fixtures shared by the provider tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.azurite import azurite  # noqa: F401  (an Azurite blob server, for the lake path checks)

LIVE_PROJECT = Path(__file__).resolve().parents[1] / "live" / "transforms"
LIVE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def live_project(tmp_path: Path) -> Path:
    """A copy of the live test's project (tests/live/transforms), which the Azure provider deploys in full."""
    shutil.copytree(LIVE_PROJECT, tmp_path / "live")
    return tmp_path / "live" / "mlproject.yaml"


@pytest.fixture
def fake_azure(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A :class:`FakeAzure` behind every Azure provider that plan, apply and run make (only the credential
    and the wire are stand-ins: the provider is made as the registry makes it)."""
    pytest.importorskip("azure.mgmt.resource.deployments")
    from mlspec.plan import target as target_module
    from mlspec.providers.azure import AzureProvider, refuse_undeployable
    from mlspec.providers.azure.workspace import AzureWorkspace
    from tests.providers.azure_fake import FakeAzure
    from tests.providers.test_azure_provider_contract import StaticCredential

    azure = FakeAzure(LIVE_SUBSCRIPTION, "rg-mlspec-live")

    def provider_for(name: str, project_dir: Path, environment: str, **target: Any) -> AzureProvider:
        assert name == "azure"
        refuse_undeployable(target["provider_types"], environment)
        return AzureProvider(
            AzureWorkspace.of(target["workspace"], environment),
            target["project"],
            StaticCredential(),  # type: ignore[arg-type]
            {"transport": azure, "polling_interval": 0, "retry_backoff_factor": 0},
            report_workspaces=target.get("report_workspaces"),
        )

    monkeypatch.setattr(target_module, "provider_for", provider_for)
    return azure
