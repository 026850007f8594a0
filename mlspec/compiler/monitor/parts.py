"""A part of the monitoring template: one ARM resource and the graph resource that deploys it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlspec.contract.graph import Address
from mlspec.diagnostics import SpecPath

ACTION_GROUP_TYPE = "Microsoft.Insights/actionGroups"


@dataclass
class Part:
    address: Address
    resource: dict[str, Any]
    source: SpecPath
    depends_on: list[Address] = field(default_factory=list)
    description: str = ""

    @property
    def provider_type(self) -> str:
        return f"arm:{self.resource['type']}"
