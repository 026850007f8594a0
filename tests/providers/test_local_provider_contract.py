"""The local provider passes the shared provider contract (tests/providers/contract.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlspec.providers.base import DeployRequest, ProviderResult
from mlspec.providers.local import LocalProvider
from mlspec.providers.local.workspace import FILES_DIR, PROPERTIES_FILE, file_hash
from providers.contract import ProviderContract, ProviderUnderTest

ENVIRONMENT = "dev"


def _folder(project: Path, result: ProviderResult) -> Path:
    return project / result.provider_id


def _tamper(project: Path, request: DeployRequest, result: ProviderResult) -> dict[str, Any]:
    """A hand edit: new properties, and new content in the first attachment when there is one."""
    folder = _folder(project, result)
    properties = {"edited": "by hand", "was": request.payload.properties}
    (folder / PROPERTIES_FILE).write_text(json.dumps(properties), encoding="utf-8")
    attachments = dict(request.payload.attachments)
    for path in sorted(attachments)[:1]:
        edited = b"print('edited by hand')\n"
        (folder / FILES_DIR / path).write_bytes(edited)
        attachments[path] = file_hash(edited)
    return {"properties": properties, "attachments": attachments}


class TestLocalProviderContract(ProviderContract):
    @pytest.fixture
    def subject(self, tmp_path: Path) -> ProviderUnderTest:
        return ProviderUnderTest(
            provider=LocalProvider(tmp_path, ENVIRONMENT),
            reopen=lambda: LocalProvider(tmp_path, ENVIRONMENT),
            tamper=lambda request, result: _tamper(tmp_path, request, result),
            remove_behind_its_back=lambda request, result: shutil.rmtree(_folder(tmp_path, result)),
        )
