"""How a canary rollout's traffic share becomes pod counts, and when ``replicas.max`` cannot realise it.

A Service spreads connections evenly over ready pods, so the canary's share of requests is its share
of pods: the stable minimum is raised to ``ceil((100 - p) / p)`` (capped at ``replicas.max``) and the
canary gets ``max(1, floor(stable_min * p / (100 - p)))`` pods (at most ``replicas.max``). Shared by the
deployment check (the warning at ``canary_percent``) and the AKS renderer (the replica counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlspec.spec_schema.models import Deployment

DEFAULT_CANARY_PERCENT = 10


def canary_replicas(percent: int, stable_min: int, stable_max: int) -> tuple[int, int]:
    """``(stable_min, canary)`` so that canary / (stable + canary) ≤ percent/100 where reachable."""
    needed = math.ceil((100 - percent) / percent)
    ceiling = max(stable_max, stable_min)
    stable = min(max(stable_min, needed), ceiling)
    canary = min(max(1, math.floor(stable * percent / (100 - percent))), ceiling)
    return stable, canary


@dataclass(frozen=True)
class CanarySplit:
    percent: int
    stable_min: int
    canary: int

    @property
    def share(self) -> float:
        """The canary's share of requests (percent) while the stable side is at its minimum."""
        return 100 * self.canary / (self.stable_min + self.canary)

    @property
    def realised(self) -> bool:
        """Whether the pod counts give about the share asked for (at most half a point more, 5 less)."""
        return self.percent - 5 <= self.share <= self.percent + 0.5


def canary_split(d: Deployment) -> CanarySplit:
    percent = d.rollout.canary_percent or DEFAULT_CANARY_PERCENT
    stable_min, canary = canary_replicas(percent, d.replicas.min, d.replicas.max)
    return CanarySplit(percent, stable_min, canary)
