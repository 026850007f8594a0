"""The deployment's secrets for a local run: where their values come from, and how they are written."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mlspec.runtime.serving.secrets import (
    SecretMissing,
    environment_variable,
    load_local_secrets,
    secrets_file,
    write_secret_files,
)


def _project(tmp_path: Path, text: str | None) -> Path:
    if text is not None:
        secrets_file(tmp_path).parent.mkdir(parents=True)
        secrets_file(tmp_path).write_text(text, encoding="utf-8")
    return tmp_path


def test_environment_variable_names_are_upper_case_with_underscores() -> None:
    assert environment_variable("crm-api-key") == "MLSPEC_SECRET_CRM_API_KEY"
    assert (
        environment_variable("appinsights.connection string") == "MLSPEC_SECRET_APPINSIGHTS_CONNECTION_STRING"
    )


def test_values_come_from_the_secrets_file_and_the_environment_wins(tmp_path: Path) -> None:
    project = _project(tmp_path, "crm-api-key: from-file\npartner-password: 12345\n")
    environ = {"MLSPEC_SECRET_CRM_API_KEY": "from-environment"}
    values = load_local_secrets(project, ["crm-api-key", "partner-password"], environ)
    assert values == {"crm-api-key": "from-environment", "partner-password": "12345"}


def test_a_missing_secret_names_itself_and_both_ways_to_provide_it(tmp_path: Path) -> None:
    project = _project(tmp_path, "present: value-that-must-not-leak\n")
    with pytest.raises(SecretMissing) as raised:
        load_local_secrets(project, ["present", "crm-api-key", "other"], {})
    message = str(raised.value)
    assert "'crm-api-key'" in message and "'other'" in message and "'present'" not in message
    assert str(secrets_file(project)) in message and "MLSPEC_SECRET_CRM_API_KEY" in message
    assert "value-that-must-not-leak" not in message


def test_every_missing_secret_is_named_with_its_own_variable(tmp_path: Path) -> None:
    with pytest.raises(SecretMissing) as raised:
        load_local_secrets(tmp_path, ["crm-api-key", "partner.password", "crm-api-key"], {})
    message = str(raised.value)
    assert "MLSPEC_SECRET_CRM_API_KEY for 'crm-api-key'" in message
    assert "MLSPEC_SECRET_PARTNER_PASSWORD for 'partner.password'" in message
    assert message.count("MLSPEC_SECRET_") == 2, "each secret once, even when asked for twice"
    assert str(secrets_file(tmp_path)) in message


def test_without_a_secrets_file_the_environment_is_enough(tmp_path: Path) -> None:
    assert load_local_secrets(tmp_path, ["k"], {"MLSPEC_SECRET_K": "v"}) == {"k": "v"}
    assert load_local_secrets(tmp_path, [], {}) == {}
    with pytest.raises(SecretMissing, match="'k'"):
        load_local_secrets(tmp_path, ["k"], {"MLSPEC_SECRET_K": ""})


@pytest.mark.parametrize(
    "text",
    [
        "token: [unclosed value-that-must-not-leak",
        "- value-that-must-not-leak\n",
        "token: {nested: value-that-must-not-leak}\n",
    ],
)
def test_a_broken_secrets_file_is_reported_without_its_content(tmp_path: Path, text: str) -> None:
    with pytest.raises(SecretMissing) as raised:
        load_local_secrets(_project(tmp_path, text), ["token"], {})
    assert "value-that-must-not-leak" not in str(raised.value)
    assert str(secrets_file(tmp_path)) in str(raised.value)


def test_files_are_written_privately_as_the_csi_driver_mounts_them(tmp_path: Path) -> None:
    folder = tmp_path / "mounted"
    files = write_secret_files(folder, {"crm-api-key": "s3cret", "empty-ok": ""})
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert files["crm-api-key"] == folder / "crm-api-key"
    assert files["crm-api-key"].read_text(encoding="utf-8") == "s3cret", "no trailing newline"
    for path in files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for bad in ("../escape", "a/b", "..", ""):
        with pytest.raises(ValueError):
            write_secret_files(folder, {bad: "x"})
    assert not (tmp_path / "escape").exists()
