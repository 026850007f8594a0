"""How each rollout strategy becomes Deployments, Service selectors, an HPA target and a PDB.

- ``rolling``: one Deployment ``<endpoint>``, scaled by the HPA; Kubernetes' RollingUpdate
  with the spec's ``max_surge``/``max_unavailable``.
- ``canary``: a stable Deployment ``<endpoint>`` (``track: stable``, scaled by the HPA) and a
  ``<endpoint>-canary`` Deployment (``track: canary``, fixed replicas), both behind the one
  Service, which selects the endpoint label only. A Service spreads connections evenly over
  ready pods, so the canary's share of requests is its share of pods: the stable minimum
  is raised to ``ceil((100 - p) / p)`` (capped at ``replicas.max``) and the canary gets
  ``max(1, floor(stable_min * p / (100 - p)))`` pods (at most ``replicas.max``), so it never
  gets more than ``p``% while the stable side is at its minimum, and less when the HPA scales
  the stable side up (:mod:`mlspec.spec_schema.canary`). When ``replicas.max`` makes the split
  unreachable, the spec checks warn (MLS639) what share the pods realise.
  The stable Deployment depends on the canary one: apply rolls a new release out to the
  canary first and touches the stable pods only once the canary is ready.
- ``blue_green``: ``<endpoint>-blue`` and ``<endpoint>-green`` (``slot: blue|green``). The
  Service ``<endpoint>`` selects the active slot (HPA, PDB on it); the standby slot keeps
  ``replicas.min`` warm pods and is reachable in-cluster through ``<endpoint>-preview`` for
  smoke tests. The active Deployment depends on the standby one, so a release reaches the
  standby slot (no live traffic) first and the live slot only if that succeeded. The active
  slot is ``blue`` unless the spec's rollout names one (``active_slot``); switching is a
  change of the Service selector, which apply makes in place.

What each slot serves is pinned in its own pod template, never in the shared ConfigMap: the
container's env holds ``MODEL_VERSION`` and ``MODEL_URI = models:/<model>/$(MODEL_VERSION)``
(Kubernetes expands ``$(VAR)`` of a variable defined earlier in the same list, and ``env`` wins
over ``envFrom``). The stable (active, the rolling one) slot serves ``deployment.model_version``;
the canary (standby) slot ``rollout.model_version`` when the spec names one, else the same. A slot
without a pinned version serves the version the training pipeline last registered past its gate:
an output marker apply resolves to a number, so a new version is a change of the pod template that
Kubernetes rolls out per Deployment (canary or standby first, in apply order), and a restarted pod
keeps serving what its slot was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlspec.compiler.aks.conventions import NAME_LABEL, SLOT_LABEL, TRACK_LABEL
from mlspec.diagnostics import SpecPath
from mlspec.spec_schema.canary import canary_split
from mlspec.spec_schema.models import Deployment

SLOTS = ("blue", "green")
MODEL_VERSION_VAR = "MODEL_VERSION"
MODEL_URI_VAR = "MODEL_URI"


@dataclass(frozen=True)
class Workload:
    """One Deployment of the endpoint."""

    name: str
    file: str
    selector: dict[str, str]
    replicas: int | None
    """Fixed replica count; ``None`` when the HPA scales it (the manifest then leaves replicas out)."""
    role: str
    """``primary`` (the HPA target), ``canary`` or ``standby``."""
    source: SpecPath
    annotations: dict[str, str] = field(default_factory=dict)
    model_version: int | None = None
    """The registered model version the slot serves; ``None``: what the training pipeline last registered."""
    version_source: SpecPath = ("deployment", "model_version")
    """Where the spec sets (or would set) that version."""


@dataclass(frozen=True)
class RolloutPlan:
    strategy: str
    workloads: tuple[Workload, ...]
    service_selector: dict[str, str]
    preview_selector: dict[str, str] | None
    hpa_min: int
    hpa_max: int
    pdb_selector: dict[str, str]

    @property
    def primary(self) -> Workload:
        return next(w for w in self.workloads if w.role == "primary")

    def apply_order(self) -> list[Workload]:
        """Workloads in the order a release should reach them (the primary last)."""
        return sorted(self.workloads, key=lambda w: w.role == "primary")


def model_env(model_name: str, version: str) -> list[dict[str, str]]:
    """The container env that pins what a slot serves: MODEL_URI names MODEL_VERSION, defined first."""
    return [
        {"name": MODEL_VERSION_VAR, "value": version},
        {"name": MODEL_URI_VAR, "value": f"models:/{model_name}/$({MODEL_VERSION_VAR})"},
    ]


def _second_slot_version(d: Deployment) -> tuple[int | None, SpecPath]:
    """The canary's or standby's version: the rollout's own when it names one, else the serving slot's."""
    if d.rollout.model_version is not None:
        return d.rollout.model_version, ("deployment", "rollout", "model_version")
    return d.model_version, ("deployment", "model_version")


def plan_rollout(deployment: Deployment) -> RolloutPlan:
    strategy = deployment.rollout.strategy
    if strategy == "canary":
        return _canary(deployment)
    if strategy == "blue_green":
        return _blue_green(deployment)
    return _rolling(deployment)


def _rolling(d: Deployment) -> RolloutPlan:
    base = {NAME_LABEL: d.endpoint}
    primary = Workload(
        d.endpoint,
        "aks/deployment.yaml",
        base,
        None,
        "primary",
        ("deployment",),
        model_version=d.model_version,
    )
    return RolloutPlan("rolling", (primary,), base, None, d.replicas.min, d.replicas.max, base)


def _canary(d: Deployment) -> RolloutPlan:
    split = canary_split(d)  # a split replicas.max cannot realise is warned about by the spec checks
    percent, stable_min, canary, share = split.percent, split.stable_min, split.canary, split.share
    base = {NAME_LABEL: d.endpoint}
    annotations = {
        "mlspec.dev/rollout": "canary",
        "mlspec.dev/canary-percent": str(percent),
        "mlspec.dev/canary-share-at-min": f"{share:.1f}%",
    }
    stable = Workload(
        d.endpoint,
        "aks/deployment.yaml",
        {**base, TRACK_LABEL: "stable"},
        None,
        "primary",
        ("deployment", "rollout"),
        annotations,
        model_version=d.model_version,
    )
    canary_version, canary_version_source = _second_slot_version(d)
    canary_workload = Workload(
        f"{d.endpoint}-canary",
        "aks/deployment-canary.yaml",
        {**base, TRACK_LABEL: "canary"},
        canary,
        "canary",
        ("deployment", "rollout", "canary_percent"),
        annotations,
        canary_version,
        canary_version_source,
    )
    hpa_max = max(d.replicas.max, stable_min)
    return RolloutPlan("canary", (stable, canary_workload), base, None, stable_min, hpa_max, stable.selector)


def active_slot(d: Deployment) -> str:
    slot = getattr(d.rollout, "active_slot", None)  # not in the v1 model yet: blue until it is
    return slot if slot in SLOTS else SLOTS[0]


def _blue_green(d: Deployment) -> RolloutPlan:
    active = active_slot(d)
    standby = SLOTS[1] if active == SLOTS[0] else SLOTS[0]
    base = {NAME_LABEL: d.endpoint}
    served = {active: (d.model_version, ("deployment", "model_version")), standby: _second_slot_version(d)}
    workloads = tuple(
        Workload(
            f"{d.endpoint}-{slot}",
            f"aks/deployment-{slot}.yaml",
            {**base, SLOT_LABEL: slot},
            None if slot == active else d.replicas.min,
            "primary" if slot == active else "standby",
            ("deployment", "rollout"),
            {
                "mlspec.dev/rollout": "blue-green",
                "mlspec.dev/slot-role": "active" if slot == active else "standby",
            },
            model_version=served[slot][0],
            version_source=served[slot][1],
        )
        for slot in SLOTS
    )
    active_selector = {**base, SLOT_LABEL: active}
    return RolloutPlan(
        "blue_green",
        workloads,
        active_selector,
        {**base, SLOT_LABEL: standby},
        d.replicas.min,
        d.replicas.max,
        active_selector,
    )
