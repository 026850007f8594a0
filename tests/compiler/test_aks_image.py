"""The serving image: Dockerfile, requirements, scoring script, ACR task and the image reference."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec.compiler.aks.image import python_literal
from mlspec.spec_schema.serving_image.base_images import BASE_IMAGES
from mlspec.spec_schema.serving_image.requirements import UnsafeValue, requirements_text


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
BASE, HOSTILE, example_cases, render, variant = _s.BASE, _s.HOSTILE, _s.example_cases, _s.render, _s.variant
CASES = example_cases()
DOCKERFILE_INSTRUCTIONS = {
    "FROM",
    "ENV",
    "WORKDIR",
    "COPY",
    "RUN",
    "USER",
    "EXPOSE",
    "HEALTHCHECK",
    "ENTRYPOINT",
}


def _image(rendered: Any) -> str:
    image: str = rendered.doc("aks/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def _content_tag(rendered: Any) -> str:
    """The tag the ACR task builds once: the last of its pushed references."""
    pushed: list[str] = rendered.doc("acr/task.yaml")["steps"][1]["push"]
    return pushed[-1].rsplit(":", 1)[1]


DIGEST_MARKER = "mlspec:output:acr.task.scorer.image_digest"


def test_deployments_run_the_image_by_the_digest_the_acr_task_pushed() -> None:
    rendered = render(BASE)
    assert _image(rendered) == f"acrscoringdev.azurecr.io/scoring/scorer@{DIGEST_MARKER}"
    container = rendered.doc("aks/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Always"
    # apply resolves the marker from the task's outputs: the Deployment must wait for the task.
    assert "acr.task.scorer" in {str(a) for a in rendered.resource("aks.deployment.scorer").depends_on}


def test_the_content_tag_is_the_hash_of_the_build_inputs() -> None:
    rendered = render(BASE)
    digest = hashlib.sha256()
    for name in ("acr/Dockerfile", "acr/score.py", "acr/gunicorn.conf.py", "acr/requirements.txt"):
        content = rendered.out.artifacts[name].content
        digest.update(len(content).to_bytes(8, "big"))
        digest.update(content)
    assert re.fullmatch(r"[0-9a-f]{12}", _content_tag(rendered))
    assert _content_tag(rendered) == digest.hexdigest()[:12]


def test_one_image_serves_every_environment_and_a_changed_input_changes_the_tag(tmp_path: Path) -> None:
    dev, prod = render(BASE, "dev"), render(BASE, "prod")
    assert _content_tag(dev) == _content_tag(prod)
    assert _image(prod).startswith("acrscoringprod.azurecr.io/")
    changed = render(
        variant(tmp_path, lambda d: d["model"]["training"]["environment"]["pip"].append("numpy<3"))
    )
    assert _content_tag(changed) != _content_tag(dev)


def test_acr_task_builds_and_pushes_the_content_tag_with_acr_syntax_kept_literal() -> None:
    rendered = render(BASE)
    text = rendered.text("acr/task.yaml")
    assert "{{.Run.ID}}" in text and "$Registry/scoring/scorer" in text
    task = rendered.doc("acr/task.yaml")
    tag = _content_tag(rendered)
    assert task["version"] == "v1.1.0"
    build, push = task["steps"]
    assert build["build"] == (
        f"-t $Registry/scoring/scorer:{{{{.Run.ID}}}} -t $Registry/scoring/scorer:{tag} -f Dockerfile ."
    )
    assert push["push"] == ["$Registry/scoring/scorer:{{.Run.ID}}", f"$Registry/scoring/scorer:{tag}"]
    # ACR renders its Go template before it parses the YAML: the result must still be the same YAML.
    expanded = text.replace("{{.Run.ID}}", "ca42").replace("$Registry", "acrscoringdev.azurecr.io")
    pushed = yaml.safe_load(expanded)["steps"][1]["push"][1]
    assert pushed == f"{_image(rendered).split('@')[0]}:{tag}"


def test_dockerfile_is_non_root_and_carries_no_spec_free_text() -> None:
    dockerfile = render(HOSTILE).text("acr/Dockerfile")
    instructions = [
        line.split()[0]
        for line in dockerfile.splitlines()
        if line.strip() and not line.startswith(("#", " "))
    ]
    assert set(instructions) <= DOCKERFILE_INSTRUCTIONS
    assert instructions[0] == "FROM"
    assert f"FROM {BASE_IMAGES['3.11'].reference}\n" in dockerfile
    assert "USER 10001:10001" in dockerfile
    for fragment in ("hostile", "os.system", "{{", "{%", "'''"):
        assert fragment not in dockerfile


def test_requirements_keep_the_model_pins_and_add_serving_packages() -> None:
    lines = requirements_text(["scikit-learn==1.5.2", "mlflow==2.16.2"], "key").splitlines()[1:]
    assert "scikit-learn==1.5.2" in lines
    assert any(line.startswith("mlflow-skinny") for line in lines)
    assert any(line.startswith("azureml-mlflow") for line in lines)
    assert lines == sorted(lines, key=str.lower)
    assert not any("PyJWT" in line for line in lines)
    assert "PyJWT[crypto]" in requirements_text([], "entra")
    for pin in ("azureml-inference-server-http==1.5.1", "gunicorn==27.0.1", "gevent==26.9.0"):
        assert pin in lines


def test_the_locked_image_requirements_keep_the_model_and_server_pins() -> None:
    """The base spec's committed lock: the same pins, now with every dependency and its hashes."""
    text = render(BASE).text("acr/requirements.txt")
    pinned = {line.split(" ")[0] for line in text.splitlines() if "==" in line}
    for pin in (
        "scikit-learn==1.5.2",
        "azureml-inference-server-http==1.5.1",
        "gunicorn==27.0.1",
        "gevent==26.9.0",
    ):
        assert pin in pinned
    assert text.count("--hash=sha256:") >= len(pinned)


def test_full_mlflow_is_served_as_skinny_and_the_servers_pins_win() -> None:
    """Full MLflow pins gunicorn<24, which the server's pin excludes: the image could not be built."""
    lines = requirements_text(["mlflow==2.16.2", "gunicorn==22.0.0", "pandas==2.2.3"], "key").splitlines()
    assert "mlflow-skinny==2.16.2" in lines and not any(line.startswith("mlflow==") for line in lines)
    assert "gunicorn==27.0.1" in lines and "gunicorn==22.0.0" not in lines
    assert "pandas==2.2.3" in lines


def test_the_image_runs_azure_mls_inference_server_with_the_hardened_settings() -> None:
    rendered = render(BASE)
    dockerfile = rendered.text("acr/Dockerfile")
    entrypoint = next(line for line in dockerfile.splitlines() if line.startswith("ENTRYPOINT"))
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == [
        "python", "-m", "azureml_inference_server_http", "--entry_script", "/app/score.py", "--port", "8080"
    ]  # fmt: skip
    assert 'GUNICORN_CMD_ARGS="--config /app/gunicorn.conf.py"' in dockerfile
    assert "WORKER_COUNT=2" in dockerfile and "WORKER_TIMEOUT=120" in dockerfile
    assert "COPY gunicorn.conf.py score.py /app/" in dockerfile
    config = rendered.text("acr/gunicorn.conf.py")
    compile(config, "gunicorn.conf.py", "exec")
    settings = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(config).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert settings["worker_class"] == "gevent" and settings["keepalive"] == 5
    assert settings["graceful_timeout"] < 30 - 5, "finishes within the termination grace period after preStop"
    assert settings["limit_request_line"] <= 8190 and settings["limit_request_fields"] <= 100
    hooks = {node.name for node in ast.parse(config).body if isinstance(node, ast.FunctionDef)}
    assert hooks == {"on_starting", "pre_request", "post_request"}


@pytest.mark.parametrize(
    "entry",
    [
        "--index-url https://evil.example/simple",
        "pkg @ https://evil.example/pkg.whl",
        "numpy\n--trusted-host x",
        "-e .",
    ],
)
def test_pip_entries_that_are_not_plain_requirements_are_rejected_at_their_line(
    tmp_path: Path, entry: str
) -> None:
    with pytest.raises(UnsafeValue):
        requirements_text([entry], "key")
    spec = variant(tmp_path, lambda d: d["model"]["training"]["environment"]["pip"].append(entry))
    expected = [("MLS638", ("model", "training", "environment", "pip", 1))]
    assert [(d.code, d.path) for d in _s.spec_diagnostics(spec) if d.is_error] == expected  # validate
    rendered = render(spec, checked=False)  # and the renderer refuses it, as defence in depth
    assert [(d.code, d.path) for d in rendered.errors] == expected
    assert rendered.out.artifacts == {}


@pytest.mark.parametrize(
    "entry",
    ["scikit-learn==1.5.2", "pandas", "uvicorn[standard]>=0.30, <1", 'pywin32 ; sys_platform == "win32"'],
)
def test_plain_requirements_are_accepted(entry: str) -> None:
    assert entry in requirements_text([entry], "key")


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_scoring_script_parses_for_every_example(spec: Path, env: str) -> None:
    source = render(spec, env).text("acr/score.py")
    compile(source, "score.py", "exec")


def _assigned(source: str, name: str) -> Any:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name) and target.id == name:
                assert node.value is not None
                return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned")


def test_hostile_spec_values_reach_the_script_only_as_literals() -> None:
    rendered = render(HOSTILE)
    source = rendered.text("acr/score.py")
    tree = ast.parse(source)
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "system"
    }
    assert not calls, "no hostile text became code"
    defaults = _assigned(source, "DEFAULTS")
    config = rendered.doc("aks/configmap.yaml")["data"]
    assert defaults == {k: config[k] for k in defaults}
    assert _assigned(source, "ENDPOINT") == "hostile-scoring"


def test_python_literal_refuses_what_is_not_plain_data() -> None:
    assert ast.literal_eval(python_literal({"b": [1, 2.5, None, True], "a": "x'\"\n"})) == {
        "a": "x'\"\n",
        "b": [1, 2.5, None, True],
    }
    for value in (float("nan"), object(), {1: "x"}, [b"bytes"]):
        with pytest.raises(UnsafeValue):
            python_literal(value)


def test_conda_packages_are_a_warning_and_the_image_is_still_built(tmp_path: Path) -> None:
    spec = variant(tmp_path, lambda d: d["model"]["training"]["environment"].update(conda=["libgomp"]))
    rendered = render(spec)
    assert rendered.diagnostics == [], "validate warns, not the renderer (build shows the warning once)"
    warnings = [(d.code, d.is_error, d.path) for d in _s.spec_diagnostics(spec) if d.code == "MLS638"]
    assert warnings == [("MLS638", False, ("model", "training", "environment", "conda"))]
    assert "acr/Dockerfile" in rendered.out.artifacts


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (f"acrscoringdev.azurecr.io/scoring/scorer@{DIGEST_MARKER}", None),
        ("acrscoringdev.azurecr.io/scoring/scorer@sha256:" + "0" * 64, None),
        ("acrscoringdev.azurecr.io/scoring/scorer:{tag}", "is not pinned by digest"),
        ("acrscoringdev.azurecr.io/scoring/scorer:{tag}@sha256:" + "0" * 64, None),
        ("acrscoringdev.azurecr.io/scoring/scorer@mlspec:output:acr.task.other.image_digest", "by digest"),
        ("acrscoringdev.azurecr.io/scoring/scorer@sha256:abc", "is not pinned by digest"),
        ("acrscoringdev.azurecr.io/scoring/other@sha256:" + "0" * 64, "is not pushed by acr/task.yaml"),
        ("docker.io/library/python@sha256:" + "0" * 64, "is not in the project's registry"),
    ],
)
def test_mls635_wants_the_projects_image_by_digest(image: str, problem: str | None) -> None:
    from mlspec.compiler import aks

    rendered = render(BASE)
    container = rendered.doc("aks/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    container["image"] = image.format(tag=_content_tag(rendered))
    found = [d.message for d in aks.check(rendered.ctx, rendered.out) if d.code == "MLS635"]
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0], found
