"""The one shape every platform check reports in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformProblem:
    """Something the platform (its SDK, schema or rules) would reject in a rendered artifact."""

    artifact: str
    """The file path (as given) or a label such as ``Deployment/churn-scorer``."""
    where: str
    """A JSON-pointer-like path inside the artifact (``/properties/cells/0/source``); ``""`` if whole."""
    message: str
    checker: str
    """Who found it: ``azure-ai-ml``, ``azure-synapse-artifacts``, ``kubernetes-validate``, ``jsonschema``,
    ``mlspec`` ..."""
