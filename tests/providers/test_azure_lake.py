"""The lake path checks against a real Azurite blob server: what exists, what does not, and a refusal
that says which role is missing. Data Lake Gen2 directories show on the blob endpoint as empty blobs
marked ``hdi_isfolder``; they are made that way here (Azurite has no dfs endpoint)."""

from __future__ import annotations

import pytest

pytest.importorskip("azure.storage.filedatalake")

from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob import BlobServiceClient

from mlspec.providers.azure.lake import missing_sources
from tests.azurite import AZURITE_ACCOUNT, AZURITE_KEY

LAKE = "contosolake"


def endpoint(connection_string: str) -> str:
    return connection_string.split("BlobEndpoint=", 1)[1].rstrip(";")


@pytest.fixture
def lake(azurite: str) -> str:
    service = BlobServiceClient.from_connection_string(azurite)
    for container in ("raw", "curated"):
        if not service.get_container_client(container).exists():
            service.create_container(container)
    raw = service.get_container_client("raw")
    raw.upload_blob("crm/customers", b"", metadata={"hdi_isfolder": "true"}, overwrite=True)
    raw.upload_blob("crm/customers/part-0.csv", b"customer_id\n1\n", overwrite=True)
    raw.upload_blob("billing/invoices.parquet", b"PAR1", overwrite=True)
    return endpoint(azurite)


def check(url: str, sources: dict[str, str], key: str = AZURITE_KEY) -> dict[str, str]:
    credential = AzureNamedKeyCredential(AZURITE_ACCOUNT, key)
    return missing_sources(sources, credential, lambda account: url, {"retry_total": 0})


def test_existing_directories_files_and_containers_pass(lake: str) -> None:
    assert (
        check(
            lake,
            {
                "customers": f"abfss://raw@{LAKE}.dfs.core.windows.net/crm/customers/",
                "invoices": f"abfss://raw@{LAKE}.dfs.core.windows.net/billing/invoices.parquet",
                "everything": f"abfss://curated@{LAKE}.dfs.core.windows.net/",
            },
        )
        == {}
    )


def test_a_missing_path_or_container_is_reported_by_name(lake: str) -> None:
    assert check(
        lake,
        {
            "customers": f"abfss://raw@{LAKE}.dfs.core.windows.net/crm/customers/",
            "web_logs": f"abfss://raw@{LAKE}.dfs.core.windows.net/web/logs/",
            "typo": f"abfss://raw@{LAKE}.dfs.core.windows.net/billing/invoice.parquet",
            "no_container": f"abfss://landing@{LAKE}.dfs.core.windows.net/x/",
        },
    ) == {"web_logs": "does not exist", "typo": "does not exist", "no_container": "does not exist"}


def test_a_refused_read_says_what_role_is_missing(lake: str) -> None:
    wrong = "A" * 86 + "=="  # a well-formed key that is not the account's: Azurite answers 403
    found = check(lake, {"customers": f"abfss://raw@{LAKE}.dfs.core.windows.net/crm/customers/"}, key=wrong)
    assert list(found) == ["customers"]
    assert found["customers"].startswith("cannot be read: 403")
    assert found["customers"].endswith(
        "the deploying identity needs Storage Blob Data Reader on the account (or the container)"
    )
