"""The deployment's Key Vault secrets for a local run, and the files the scoring server reads them from.

On AKS the Key Vault CSI driver mounts each secret as a file named after it. Locally a secret's
value comes from the environment variable ``MLSPEC_SECRET_<NAME>`` (the name upper-cased, every
other character than a letter or digit as ``_``) or else from the project's git-ignored
``.mlspec/secrets.yaml`` (``{secret_name: value}``); :func:`write_secret_files` then lays them out
as the driver would. A value never appears in a message, a log line or an exception.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

SECRETS_FILE = Path(".mlspec") / "secrets.yaml"
ENVIRONMENT_PREFIX = "MLSPEC_SECRET_"
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


class SecretMissing(Exception):
    """A secret the deployment needs has no local value; the message says how to provide it."""


def secrets_file(project_dir: Path) -> Path:
    return project_dir / SECRETS_FILE


def environment_variable(name: str) -> str:
    """``crm-api-key`` → ``MLSPEC_SECRET_CRM_API_KEY``."""
    return ENVIRONMENT_PREFIX + _NOT_ALPHANUMERIC.sub("_", name).upper()


def load_local_secrets(
    project_dir: Path, names: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``{name: value}`` for each of ``names``; :class:`SecretMissing` names every one without a value."""
    source = os.environ if environ is None else environ
    wanted = list(dict.fromkeys(names))
    from_file = _read_secrets_file(secrets_file(project_dir)) if wanted else {}
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in wanted:
        value = source.get(environment_variable(name))
        if value is None:
            value = from_file.get(name)
        if value is None or value == "":
            missing.append(name)
        else:
            values[name] = value
    if missing:
        raise SecretMissing(_missing_message(secrets_file(project_dir), missing))
    return values


def _missing_message(path: Path, missing: list[str]) -> str:
    """Every missing secret with its own variable, and the file that can hold them all."""
    if len(missing) == 1:
        (name,) = missing
        return (
            f"the deployment needs the Key Vault secret {name!r}, which has no local value: "
            f"set {environment_variable(name)} or add `{name}: <value>` to {path} "
            "(keep that file out of git)"
        )
    listed = ", ".join(repr(name) for name in missing)
    variables = ", ".join(f"{environment_variable(name)} for {name!r}" for name in missing)
    return (
        f"the deployment needs the Key Vault secrets {listed}, which have no local value: "
        f"set {variables}, or add a `<secret name>: <value>` line for each to {path} "
        "(keep that file out of git)"
    )


def _read_secrets_file(path: Path) -> dict[str, str]:
    import yaml

    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        # The parser's message can quote the file's content: report only where it failed.
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SecretMissing(f"{path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SecretMissing(f"{path} must be a mapping of secret names to values")
    values: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            values[str(key)] = str(value)
        elif value is not None:
            raise SecretMissing(f"{path}: the value of {str(key)!r} must be a string")
    return values


def write_secret_files(folder: Path, values: Mapping[str, str]) -> dict[str, Path]:
    """Write each value to ``folder/<name>`` as the CSI driver mounts them; returns ``{name: file}``.

    The folder is created private (0700) and every file is 0600, written without a trailing newline.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    files: dict[str, Path] = {}
    for name, value in values.items():
        if not name or "/" in name or name in (".", "..") or "\0" in name:
            raise ValueError(f"{name!r} cannot be a secret file name")
        path = folder / name
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(value)
        path.chmod(0o600)
        files[name] = path
    return files
