"""The serving deployment: what the AKS build refuses or can only approximate, at the spec's line.

- MLS630 a resource request above its limit
- MLS634 secrets one SecretProviderClass cannot mount (several vaults, one secret at two versions)
- MLS638 spec values the serving build cannot take: a cluster namespace, a subnet name, a pip entry
  that is not a plain requirement, no model to serve; conda packages are a warning (pip only)
- MLS639 rollout and network: a rolling update that can never start, a canary split the replica
  range cannot realise, an endpoint open to any caller (warnings but the first)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.project_files import read_project_file
from mlspec.spec_schema.canary import canary_split
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.checks.formats import QUANTITY
from mlspec.spec_schema.models import Deployment
from mlspec.spec_schema.quantities import quantity
from mlspec.spec_schema.serving_image.base_images import base_image
from mlspec.spec_schema.serving_image.lock_check import CODE, LOCK_PATH, find_locked_set
from mlspec.spec_schema.serving_image.requirements import UnsafeValue, requirements_text
from mlspec.spec_schema.serving_inputs import REQUIREMENT, SUBNET_NAME, is_reserved_namespace
from mlspec.spec_schema.serving_secrets import mount_problem, mounted_secrets


def check_deployment(ctx: CheckContext) -> Iterator[Diagnostic]:
    d = ctx.model.deployment
    if d is None:
        return
    yield from serving_inputs(ctx, d)
    yield from _resource_limits(ctx, d)
    yield from _rollout(ctx, d)
    yield from _image_lock(ctx, d)
    if not d.network.allow_from:
        yield ctx.warning(
            "MLS639",
            "network.allow_from is empty: any caller that reaches the load balancer can call the endpoint",
            ("deployment", "network"),
            "name the callers' CIDRs in network.allow_from",
        )


def serving_inputs(ctx: CheckContext, d: Deployment) -> Iterator[Diagnostic]:
    """What the AKS renderer needs of the spec (MLS638, MLS634); it refuses to render on an error here."""
    if is_reserved_namespace(d.namespace):
        yield ctx.error(
            "MLS638",
            f"namespace {d.namespace!r} belongs to the cluster's own components",
            ("deployment", "namespace"),
            "give the endpoint a namespace of its own, e.g. the project name",
        )
    subnet = d.network.subnet
    if subnet is not None and not SUBNET_NAME.fullmatch(subnet):
        yield ctx.error(
            "MLS638",
            "network.subnet is not an Azure subnet name",
            ("deployment", "network", "subnet"),
            "1-80 letters, digits, '_', '.' and '-'; starts with a letter or digit",
        )
    model = ctx.model.model
    if model is None:
        yield ctx.error(
            "MLS638", "the deployment serves the spec's model, but there is no model section", ("deployment",)
        )
    else:
        env = model.training.environment
        base: SpecPath = ("model", "training", "environment")
        if env.conda:
            yield ctx.warning(
                "MLS638",
                "conda packages are not installed in the serving image (it is built with pip)",
                (*base, "conda"),
                "list the model's runtime packages under pip",
            )
        for i, entry in enumerate(env.pip):
            if not REQUIREMENT.fullmatch(entry):
                yield ctx.error(
                    "MLS638",
                    "this pip entry cannot go into the image's requirements.txt",
                    (*base, "pip", i),
                    "a package name with optional extras, versions and markers; no options, URLs or line breaks",
                )
    problem = mount_problem(mounted_secrets(ctx.model))
    if problem is not None:
        yield ctx.error("MLS634", problem.message, problem.path, problem.hint)


def _resource_limits(ctx: CheckContext, d: Deployment) -> Iterator[Diagnostic]:
    r = d.resources
    for resource, request, limit in (("cpu", r.cpu, r.cpu_limit), ("memory", r.memory, r.memory_limit)):
        if QUANTITY.fullmatch(request) and quantity(request) == 0:
            yield ctx.error(
                "MLS630",
                f"a {resource} request of {request}: "
                + (
                    "the autoscaler's target_cpu_percent is a share of the request, and with none it "
                    "cannot scale (and the scheduler reserves no CPU for the pods)"
                    if resource == "cpu"
                    else "the request is also the limit when none is set, and no container runs in 0 bytes"
                ),
                ("deployment", "resources", resource),
                'a request the pods need at rest, e.g. cpu: "500m", memory: 1Gi',
            )
            continue
        if limit is None or not QUANTITY.fullmatch(request) or not QUANTITY.fullmatch(limit):
            continue  # no limit: the request is the limit; not a quantity: MLS404
        wanted, most = quantity(request), quantity(limit)
        if wanted is not None and most is not None and wanted > most:
            yield ctx.error(
                "MLS630",
                f"{resource} request {request} is more than its limit {limit}",
                ("deployment", "resources", f"{resource}_limit"),
                "a limit at least the request, or none (the request is then the limit)",
            )


def _rollout(ctx: CheckContext, d: Deployment) -> Iterator[Diagnostic]:
    rollout = d.rollout
    if str(rollout.max_surge).strip("%") == "0" and str(rollout.max_unavailable).strip("%") == "0":
        yield ctx.error(
            "MLS639",
            "max_surge and max_unavailable are both 0: a rolling update could never start",
            ("deployment", "rollout"),
            "max_surge: 25% (new pods first) with max_unavailable: 0",
        )
    if rollout.strategy == "canary":
        split = canary_split(d)
        if not split.realised:
            yield ctx.warning(
                "MLS639",
                f"canary_percent {split.percent} is realised as {split.stable_min} stable and "
                f"{split.canary} canary pods, so the canary gets {split.share:.0f}% of requests "
                f"while replicas.max is {d.replicas.max}",
                ("deployment", "rollout", "canary_percent"),
                "raise replicas.max or canary_percent: the split is realised by pod counts behind a Service",
            )


def _image_lock(ctx: CheckContext, d: Deployment) -> Iterator[Diagnostic]:
    """MLS608 as build gives it: the scoring image installs ranges unless the lock file matches."""
    model = ctx.model.model
    if model is None or ctx.spec.file == "<string>" or ctx.model.workspace.container_registry is None:
        return
    environment = model.training.environment
    base = base_image(environment.python)
    try:
        ranges = requirements_text(list(environment.pip), d.auth)
    except UnsafeValue:
        return  # serving_inputs reports the entry
    if base is None:
        return  # build refuses the Python version (MLS638)
    found = find_locked_set(ctx.spec.file, ranges, base, _lock_reader(str(Path(ctx.spec.file).parent)))
    if found.locked is None and found.message:
        yield ctx.warning(CODE, found.message, LOCK_PATH, found.hint)


def _lock_reader(project_dir: str) -> Callable[[str], str]:
    """A project-file reader whose reads are shared by every environment validate checks (they all ask
    for the same lock file): keyed by the file's inode, time and size, so an edited file is read again."""

    def read(name: str) -> str:
        try:
            status = os.stat(os.path.join(project_dir, name))
        except OSError:
            status = None
        if status is None:
            return read_project_file(project_dir, name).decode("utf-8")  # raises what build would
        return _read_once(project_dir, name, status.st_ino, status.st_mtime_ns, status.st_size)

    return read


@lru_cache(maxsize=16)
def _read_once(project_dir: str, name: str, inode: int, mtime_ns: int, size: int) -> str:
    return read_project_file(project_dir, name).decode("utf-8")
