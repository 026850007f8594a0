"""The ``refresh_features`` step: retraining first makes sure the training data is fresh.

The training data of a model trained on a transform is what the Synapse pipeline
(``synapse/pipelines/<project>.json``) writes, and nothing else runs that pipeline: the retrain
schedule (``azureml/schedules/retrain.yml``) and the alert-triggered retrain (the Logic App re-submits
that schedule's job) both run ``azureml/pipeline.yml``, which would train on whatever the last Synapse
run left. So that pipeline job gets a first step, a command component like the others, whose script
(``refresh_features.py``) signs in as the compute cluster's managed identity (the job runs with
``identity: managed``) and asks the Synapse workspace for the pipeline's last successful run: one
that ended within ``monitoring.retrain.max_feature_age`` (default ``1d``) is fresh enough; otherwise it
starts a run and waits for it, and any end but ``Succeeded`` fails the step, so nothing trains on stale
features. It writes what it decided to ``refresh.json`` in its output folder.

Azure ML orders a pipeline's steps by data only: ``prepare`` takes that output as an extra input
(``features_ready``), which it logs. Without the step (training on a source, or no Synapse workspace)
the components and the pipeline job are byte for byte what they were before it existed.

The identity needs Synapse RBAC roles to run the pipeline (data plane, not ARM): the access service
renders them (``access/synapse-role-assignments.json``, :mod:`mlspec.compiler.access.synapse_roles`).

Layout::

    azureml/components/refresh_features.yml           the command component (registered, versioned by content)
    azureml/src/refresh_features/refresh_features.py  its script; spec values only as Python literals
"""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.compiler import addresses
from mlspec.compiler.artifacts import RenderContext
from mlspec.compiler.azureml.components import Port, Step
from mlspec.compiler.azureml.scripts import render_script
from mlspec.spec_schema.durations import duration_minutes, duration_problem
from mlspec.spec_schema.models import DEFAULT_MAX_FEATURE_AGE

STEP = addresses.FEATURE_REFRESH_STEP
SCRIPT = "refresh_features.py"
OUTPUT = "refresh"
BEFORE = "prepare"
"""The step that waits for it: the first one reading the training data."""
READY_INPUT = Port(
    "features_ready",
    "features-ready",
    "uri_folder",
    "The refresh_features step's refresh.json: binding it makes the training data fresh first.",
)
PACKAGES = (
    ("azure-synapse-artifacts", "azure-synapse-artifacts>=0.19,<1"),
    ("azure-identity", "azure-identity>=1.15,<2"),
)
"""What the script imports beyond the training environment (added to it only when the step exists)."""
RUN_TIMEOUT_SECONDS = 4 * 3600
"""How long the step waits for a Synapse run it started before failing (the run itself goes on)."""
POLL_SECONDS = 30

DEFINITION = Step(
    STEP,
    SCRIPT,
    "Run the Synapse pipeline that produces the training data when its last successful run is older "
    "than the max feature age; fail when that run does not succeed.",
    (),
    (Port(OUTPUT, "refresh", "uri_folder", "refresh.json: whether the pipeline ran, and which run"),),
)


@dataclass(frozen=True)
class FeatureRefresh:
    """What the step checks: the Synapse workspace and pipeline, and how old their output may be."""

    workspace: str
    pipeline: str
    max_age_minutes: int


def feature_refresh(ctx: RenderContext) -> FeatureRefresh | None:
    """The step's settings when the model trains on a transform in a Synapse workspace, else ``None``.

    Read from the spec alone (``provides`` asks it too)."""
    model = ctx.model
    spec = model.model
    if spec is None or spec.training.data not in model.transforms or model.workspace.synapse is None:
        return None
    retrain = model.monitoring.retrain if model.monitoring is not None else None
    age = retrain.max_feature_age if retrain is not None else DEFAULT_MAX_FEATURE_AGE
    if duration_problem(age) is not None:
        return None  # refused by the spec checks (MLS408)
    # The Synapse pipeline's name is its address's name (the Synapse renderer names it after the project).
    pipeline = addresses.synapse_pipeline(ctx.project).name
    return FeatureRefresh(model.workspace.synapse, pipeline, duration_minutes(age))


def steps(definitions: dict[str, Step], refresh: FeatureRefresh | None) -> dict[str, Step]:
    """The pipeline's components in order: ``definitions``, after the refresh step when there is one
    (and then :data:`BEFORE` with the extra input that waits for it)."""
    if refresh is None:
        return dict(definitions)
    found: dict[str, Step] = {STEP: DEFINITION}
    for name, step in definitions.items():
        waiting = (*step.inputs, READY_INPUT) if name == BEFORE else step.inputs
        found[name] = Step(step.name, step.script, step.description, waiting, step.outputs)
    return found


def wiring(wiring: dict[str, dict[str, str]], components: dict[str, str]) -> dict[str, dict[str, str]]:
    """The pipeline's job inputs: ``wiring``, after the refresh job when ``components`` has one."""
    if STEP not in components:
        return wiring
    ready = f"parent.jobs.{STEP}.outputs.{OUTPUT}"
    found: dict[str, dict[str, str]] = {STEP: {}}
    for name, inputs in wiring.items():
        found[name] = {**inputs, READY_INPUT.name: ready} if name == BEFORE else inputs
    return found


def sources(refresh: FeatureRefresh) -> dict[str, str]:
    """The step's code folder: file name → text."""
    return {
        SCRIPT: render_script(
            "refresh_features.py.j2",
            workspace=refresh.workspace,
            pipeline=refresh.pipeline,
            max_age_minutes=refresh.max_age_minutes,
            timeout_seconds=RUN_TIMEOUT_SECONDS,
            poll_seconds=POLL_SECONDS,
        )
    }
