"""``check(ctx, out)``: mlspec's own checks of the rendered AKS and ACR artifacts (MLS630-MLS639).

What kubernetes-validate cannot see, because each object is valid on its own: whether the
objects fit together (selectors, references, the image and its build), and mlspec's policy
(restricted pods, internal load balancers, no secret values). Every finding is located at
the spec line the offending value came from.

- MLS630 resource quantities parse and requests do not exceed limits
- MLS631 selectors (Deployment, PodDisruptionBudget, NetworkPolicy) match pod template labels
- MLS632 the Services select existing pods and target a port they expose
- MLS633 references resolve: HPA target, service account, ConfigMap, SecretProviderClass
- MLS634 the SecretProviderClass mounts every secret the deployment names
- MLS635 the image comes from the project's own registry with a pinned tag, built by its ACR task, and
  every Deployment pins the model version it serves in its own pod template (none in the ConfigMap,
  never ``latest``)
- MLS636 the restricted Pod Security Standard fields are present
- MLS637 no environment variable or ConfigMap entry holds a secret value
- MLS638 spec values that cannot be rendered safely (refused by the spec checks; the renderer
  refuses them again if called on an unchecked spec)
- MLS639 rollout and network: the strategy is realisable, the load balancer is internal unless
  the spec publishes it on purpose

What the spec alone decides (MLS630 a request above its limit, MLS634 the vaults and versions, MLS638,
MLS639 a rollout that cannot start, a canary split, an empty ``allow_from``) is checked before a build
by :mod:`mlspec.spec_schema.checks.deployment`; on a spec that validate accepts these never fire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mlspec.compiler.aks import object_rules, policy_rules
from mlspec.compiler.aks.view import ArtifactView
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.diagnostics import Diagnostic

RULES: tuple[Callable[[ArtifactView], Iterator[Diagnostic]], ...] = (
    object_rules.check_resources,
    object_rules.check_selectors,
    object_rules.check_services,
    object_rules.check_references,
    object_rules.check_secrets,
    policy_rules.check_image,
    policy_rules.check_model_pins,
    policy_rules.check_pod_security,
    policy_rules.check_secret_values,
    policy_rules.check_rollout_and_network,
)


def check(ctx: RenderContext, out: ArtifactSet) -> list[Diagnostic]:
    d = ctx.model.deployment
    if d is None:
        return []
    view = ArtifactView(ctx, d, out)
    if not view.docs:
        return []
    return [found for rule in RULES for found in rule(view)]
