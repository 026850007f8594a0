"""Each rollout slot pins the model version it serves (issue 11, item 10).

The version is in every Deployment's own pod template (``MODEL_VERSION``, and ``MODEL_URI`` naming it
through Kubernetes' ``$(VAR)`` expansion), never in the ConfigMap the slots share: a pod restart after
a retrain must not load the new model into the stable slot. Unpinned, a slot serves the training
pipeline's output marker and its Deployment depends on that pipeline.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.compiler import aks
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.platform_checks.kubernetes import check_kubernetes_manifests
from mlspec.runtime.serving.server import ScoringServerError, start_scoring_server


def _support() -> Any:
    if "aks_support" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "aks_support", Path(__file__).with_name("test_aks_support.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["aks_support"] = module
        spec.loader.exec_module(module)
    return sys.modules["aks_support"]


_s = _support()
BASE, ROOT, render, variant = _s.BASE, _s.ROOT, _s.render, _s.variant

CHURN = ROOT / "projects" / "churn" / "mlproject.yaml"
MARKER = "mlspec:output:aml.pipeline.scoring-model.model_version"
PIPELINE = "aml.pipeline.scoring-model"
PINNED_URI = "models:/scoring-model/$(MODEL_VERSION)"


def _env(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def _served(rendered: Any) -> dict[str, tuple[str, str]]:
    """Deployment name → (MODEL_VERSION, MODEL_URI), read back from the bytes written."""
    found = {}
    for manifest in rendered.manifests():
        if manifest["kind"] == "Deployment":
            env = {e["name"]: e["value"] for e in _env(manifest)}
            found[manifest["metadata"]["name"]] = (env["MODEL_VERSION"], env["MODEL_URI"])
    return found


def _depends_on(rendered: Any, name: str) -> set[str]:
    return {str(a) for a in rendered.resource(f"aks.deployment.{name}").depends_on}


def _with(tmp_path: Path, rollout: dict[str, Any], model_version: int | None = None) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["deployment"]["rollout"] = rollout
        if model_version is not None:
            data["deployment"]["model_version"] = model_version

    return render(variant(tmp_path, change))


# --- the churn example (canary) ----------------------------------------------------------------------


def test_churn_build_pins_each_slot_in_its_own_pod_template(tmp_path: Path) -> None:
    api.build(CHURN, "dev", out_dir=tmp_path, environ={})
    config = yaml.safe_load((tmp_path / "aks" / "configmap.yaml").read_text(encoding="utf-8"))["data"]
    assert "MODEL_URI" not in config and "MODEL_VERSION" not in config, "nothing a slot serves is shared"
    assert config["MODEL_NAME"] == "churn-classifier"
    marker = "mlspec:output:aml.pipeline.churn-classifier.model_version"
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    resources = {r["address"]: r for r in manifest["resources"]}
    for name, file in (
        ("churn-scoring", "deployment.yaml"),
        ("churn-scoring-canary", "deployment-canary.yaml"),
    ):
        deployment = yaml.safe_load((tmp_path / "aks" / file).read_text(encoding="utf-8"))
        assert _env(deployment) == [
            {"name": "MODEL_VERSION", "value": marker},
            {"name": "MODEL_URI", "value": "models:/churn-classifier/$(MODEL_VERSION)"},
        ]
        assert "aml.pipeline.churn-classifier" in resources[f"aks.deployment.{name}"]["depends_on"]
    assert "aks.deployment.churn-scoring-canary" in resources["aks.deployment.churn-scoring"]["depends_on"], (
        "the canary still gets a new version first"
    )
    defaults = _script_defaults((tmp_path / "acr" / "score.py").read_text(encoding="utf-8"))
    assert defaults["MODEL_NAME"] == "churn-classifier"
    assert "MODEL_URI" not in defaults, "the image alone names no version: a restarted pod never falls back"


def _script_defaults(source: str) -> dict[str, str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "DEFAULTS":
            assert node.value is not None
            value: dict[str, str] = ast.literal_eval(node.value)
            return value
    raise AssertionError("score.py assigns no DEFAULTS")


# --- what each strategy pins ----------------------------------------------------------------------


def test_a_rolling_deployment_without_a_pin_serves_what_the_pipeline_registered(tmp_path: Path) -> None:
    rendered = _with(tmp_path, {"strategy": "rolling"})
    assert not rendered.errors, [str(d) for d in rendered.errors]
    assert _served(rendered) == {"scorer": (MARKER, PINNED_URI)}
    assert PIPELINE in _depends_on(rendered, "scorer")


def test_a_pinned_version_is_rendered_as_the_number_and_needs_no_pipeline(tmp_path: Path) -> None:
    rendered = _with(tmp_path, {"strategy": "rolling"}, model_version=7)
    assert not rendered.errors, [str(d) for d in rendered.errors]
    assert _served(rendered) == {"scorer": ("7", PINNED_URI)}
    assert PIPELINE not in _depends_on(rendered, "scorer"), "a pinned version waits for no training run"
    assert check_kubernetes_manifests(rendered.manifests()) == []


def test_a_pin_without_an_override_pins_both_canary_slots(tmp_path: Path) -> None:
    rendered = _with(tmp_path, {"strategy": "canary", "canary_percent": 20}, model_version=7)
    assert _served(rendered) == {"scorer": ("7", PINNED_URI), "scorer-canary": ("7", PINNED_URI)}


def test_a_canary_serves_its_own_version_while_the_stable_slot_stays(tmp_path: Path) -> None:
    rendered = _with(tmp_path, {"strategy": "canary", "canary_percent": 20, "model_version": 8}, 7)
    assert not rendered.errors, [str(d) for d in rendered.errors]
    assert _served(rendered) == {"scorer": ("7", PINNED_URI), "scorer-canary": ("8", PINNED_URI)}
    assert PIPELINE not in _depends_on(rendered, "scorer") | _depends_on(rendered, "scorer-canary")
    assert check_kubernetes_manifests(rendered.manifests()) == []


def test_a_canary_version_with_an_unpinned_stable_slot(tmp_path: Path) -> None:
    rendered = _with(tmp_path, {"strategy": "canary", "canary_percent": 20, "model_version": 8})
    assert _served(rendered) == {"scorer": (MARKER, PINNED_URI), "scorer-canary": ("8", PINNED_URI)}
    assert PIPELINE in _depends_on(rendered, "scorer")
    assert PIPELINE not in _depends_on(rendered, "scorer-canary")


@pytest.mark.parametrize(
    ("pins", "expected"),
    [
        ({}, {"scorer-blue": MARKER, "scorer-green": MARKER}),
        ({"model_version": 5}, {"scorer-blue": "5", "scorer-green": "5"}),
        ({"model_version": 5, "standby": 6}, {"scorer-blue": "5", "scorer-green": "6"}),
    ],
)
def test_blue_green_pins_the_active_and_the_standby_slot(
    tmp_path: Path, pins: dict[str, int], expected: dict[str, str]
) -> None:
    rollout: dict[str, Any] = {"strategy": "blue_green"}
    if "standby" in pins:
        rollout["model_version"] = pins["standby"]
    rendered = _with(tmp_path, rollout, pins.get("model_version"))
    assert not rendered.errors, [str(d) for d in rendered.errors]
    assert {name: served[0] for name, served in _served(rendered).items()} == expected
    for name, version in expected.items():
        assert (PIPELINE in _depends_on(rendered, name)) is (version == MARKER)
    assert "aks.deployment.scorer-green" in _depends_on(rendered, "scorer-blue"), "the standby goes first"


# --- the check (MLS635) ---------------------------------------------------------------------------


def _as_before_issue_11(docs: dict[str, Any]) -> None:
    """The output before each slot pinned its version: one ``latest`` URI in the shared ConfigMap."""
    docs["aks/configmap.yaml"]["data"]["MODEL_URI"] = "models:/scoring-model/latest"
    for doc in docs.values():
        if doc.get("kind") == "Deployment":
            doc["spec"]["template"]["spec"]["containers"][0].pop("env")


def _set_env(name: str, value: str) -> Any:
    def change(docs: dict[str, Any]) -> None:
        for entry in _env(docs["aks/deployment.yaml"]):
            if entry["name"] == name:
                entry["value"] = value

    return change


def _swap_env(docs: dict[str, Any]) -> None:
    _env(docs["aks/deployment.yaml"]).reverse()


@pytest.mark.parametrize(
    ("mutate", "messages"),
    [
        (
            _as_before_issue_11,
            [
                "ConfigMap scorer sets MODEL_URI for every rollout slot",
                "Deployment scorer does not pin the model version it serves",
            ],
        ),
        (_set_env("MODEL_VERSION", "latest"), ["serves model version 'latest', not a registered version"]),
        (_set_env("MODEL_VERSION", "8"), ["serves model version '8', and its slot was given '7'"]),
        (_set_env("MODEL_URI", "models:/scoring-model/latest"), ["loads 'models:/scoring-model/latest'"]),
        (_set_env("MODEL_URI", "models:/other-model/$(MODEL_VERSION)"), ["loads 'models:/other-model/"]),
        (_swap_env, ["defines MODEL_URI before MODEL_VERSION"]),
    ],
)
def test_every_deployment_must_pin_a_concrete_model(tmp_path: Path, mutate: Any, messages: list[str]) -> None:
    rendered = _with(tmp_path, {"strategy": "rolling"}, model_version=7)
    assert [d for d in aks.check(rendered.ctx, rendered.out) if d.is_error] == [], (
        "the rendered output passes"
    )
    mutate({p: a.data for p, a in rendered.out.artifacts.items() if isinstance(a.data, dict)})
    found = [d for d in aks.check(rendered.ctx, rendered.out) if d.code == "MLS635"]
    assert len(found) == len(messages), [d.message for d in found]
    for fragment in messages:
        assert [d for d in found if fragment in d.message], (fragment, [d.message for d in found])
    assert all(d.is_error and d.location is not None for d in found)


def test_the_check_points_at_the_field_that_pins_the_slot(tmp_path: Path) -> None:
    rendered = _with(tmp_path, {"strategy": "canary", "canary_percent": 20, "model_version": 8}, 7)
    data = rendered.out.artifacts["aks/deployment-canary.yaml"].data
    _env(data)[0]["value"] = "latest"
    [found] = [d for d in aks.check(rendered.ctx, rendered.out) if d.code == "MLS635"]
    assert found.path == ("deployment", "rollout", "model_version")


# --- nothing to resolve the marker -------------------------------------------------------------------


def test_an_unpinned_slot_without_a_training_pipeline_is_an_error(tmp_path: Path) -> None:
    """Defence in depth: a build without the Azure ML renderer has nothing to register a version."""
    spec = variant(tmp_path, lambda d: d["deployment"].update(rollout={"strategy": "blue_green"}))
    resolved = api.resolve(api.load(spec), None, environ={})
    assert resolved.model is not None
    ctx = RenderContext(resolved.model, resolved.spec)
    ctx.services = tuple(s for s in ctx.services if s.name != "azureml")
    out = ArtifactSet()
    aks.render(ctx, out)
    [error] = out.diagnostics
    assert (error.code, error.path) == ("MLS638", ("deployment", "model_version"))
    assert "scorer-blue, scorer-green" in error.message and error.location is not None
    assert out.resources == []


# --- the local runtime ----------------------------------------------------------------------------


def test_the_local_server_is_told_the_version_since_the_config_map_names_none(tmp_path: Path) -> None:
    with pytest.raises(ScoringServerError, match="no model to serve"):
        start_scoring_server(tmp_path / "acr" / "score.py", python=Path(sys.executable))
