"""When the whole-chain tests can run: the local engines installed and a Java runtime for Spark."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

ENGINES = ("pyspark", "mlflow", "sklearn", "deltalake", "pyarrow", "scipy", "matplotlib", "requests")


def missing_engine() -> str | None:
    for module in ENGINES:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[local]')"
    if shutil.which("java") is None:
        return "no Java runtime for local Spark"
    return None


needs_engines = pytest.mark.skipif(missing_engine() is not None, reason=missing_engine() or "")


# The examples' Key Vault secrets, as a person would give them to a local run (docs/run.md).
EXAMPLE_SECRETS = {
    "MLSPEC_SECRET_CRM_API_KEY": "test-crm-key",
    "MLSPEC_SECRET_APPINSIGHTS_CONNECTION_STRING": "test-appinsights",
    "MLSPEC_SECRET_EHR_CLIENT_CERTIFICATE": "test-certificate",
    "MLSPEC_SECRET_SORTING_LINE_API_KEY": "test-sorting-key",
}
