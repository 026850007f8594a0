"""The Key Vault secrets the scoring pods mount, and why one SecretProviderClass could not mount them.

The pods mount the deployment's ``secrets`` (and, with ``auth: key``, the endpoint key
``<endpoint>-key`` in ``workspace.key_vault``) through one SecretProviderClass, which reads from one
vault and mounts each secret at one version. Shared by the deployment check (MLS634 at the spec's
line) and the AKS renderer (which writes the mount).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.diagnostics import SpecPath
from mlspec.spec_schema.models import MLProject


def scoring_key_secret(endpoint: str) -> str:
    """The Key Vault secret holding the endpoint key (``auth: key``); created outside mlspec."""
    return f"{endpoint}-key"


@dataclass(frozen=True)
class MountedSecret:
    local: str
    """The spec's name for it (``""`` for the endpoint key)."""
    vault: str
    name: str
    """The Key Vault secret name."""
    version: str
    """``""`` for the latest version."""
    path: SpecPath
    """Where the spec asks for it."""


@dataclass(frozen=True)
class MountProblem:
    message: str
    path: SpecPath
    hint: str | None = None


def mounted_secrets(model: MLProject) -> list[MountedSecret]:
    """What the scoring pods mount, in spec order; the endpoint key last (only with a key vault)."""
    d = model.deployment
    if d is None:
        return []
    wanted = [
        MountedSecret(local, ref.key_vault, ref.name, ref.version or "", ("deployment", "secrets", i))
        for i, local in enumerate(d.secrets)
        if (ref := model.access.secrets.get(local)) is not None  # an undeclared name is MLS303
    ]
    key_vault = model.workspace.key_vault
    if d.auth == "key" and key_vault is not None:  # without a vault: MLS316
        wanted.append(
            MountedSecret("", key_vault, scoring_key_secret(d.endpoint), "", ("deployment", "auth"))
        )
    return wanted


def mount_problem(wanted: list[MountedSecret]) -> MountProblem | None:
    """Why one SecretProviderClass cannot mount ``wanted``, or ``None``."""
    vaults = sorted({s.vault for s in wanted})
    if len(vaults) > 1:
        return MountProblem(
            f"the deployment's secrets come from {len(vaults)} Key Vaults ({', '.join(vaults)}); "
            "a SecretProviderClass mounts from one",
            ("deployment", "secrets"),
            "keep the serving secrets (and the endpoint key) in one vault",
        )
    versions: dict[str, str] = {}
    for secret in wanted:
        if versions.setdefault(secret.name, secret.version) != secret.version:
            return MountProblem(f"secret {secret.name!r} is mounted at two versions", secret.path)
    return None
