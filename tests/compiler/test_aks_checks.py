"""mlspec's own checks of the AKS artifacts (MLS630-MLS639): each fires on the fault it guards against."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlspec.compiler import aks
from mlspec.compiler.artifacts import Artifact


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
BASE, render, variant = _s.BASE, _s.render, _s.variant

Mutation = Callable[[dict[str, Any]], None]


def _deployment(docs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = docs["aks/deployment.yaml"]
    return result


def _pod(docs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _deployment(docs)["spec"]["template"]["spec"]
    return result


def _container(docs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _pod(docs)["containers"][0]
    return result


def _set(path: str, *keys: str, value: Any) -> Mutation:
    def change(docs: dict[str, Any]) -> None:
        node = docs[path]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


def _drop_object(docs: dict[str, Any]) -> None:
    parameters = docs["aks/secretproviderclass.yaml"]["spec"]["parameters"]
    parameters["objects"] = "array:\n- |\n  objectName: upstream-token\n  objectType: secret\n"


MUTATIONS: list[tuple[str, Mutation, str, tuple[str | int, ...]]] = [
    (
        "limit below request",
        lambda docs: _container(docs)["resources"]["limits"].update(cpu="100m"),
        "MLS630",
        ("deployment", "resources", "cpu_limit"),
    ),
    (
        "not a quantity",
        lambda docs: _container(docs)["resources"]["requests"].update(memory="lots"),
        "MLS630",
        ("deployment", "resources", "memory"),
    ),
    (
        "selector off the pod labels",
        lambda docs: _deployment(docs)["spec"]["selector"]["matchLabels"].update(track="ghost"),
        "MLS631",
        ("deployment", "rollout"),
    ),
    (
        "pdb selects nothing",
        _set("aks/pdb.yaml", "spec", "selector", "matchLabels", value={"app": "nobody"}),
        "MLS631",
        ("deployment", "replicas"),
    ),
    (
        "network policy selects nothing",
        _set("aks/networkpolicy.yaml", "spec", "podSelector", "matchLabels", value={"app": "nobody"}),
        "MLS631",
        ("deployment", "network"),
    ),
    (
        "service selects no pod",
        _set("aks/service.yaml", "spec", "selector", value={"app.kubernetes.io/name": "other"}),
        "MLS632",
        ("deployment", "network"),
    ),
    (
        "service targets a missing port",
        lambda docs: docs["aks/service.yaml"]["spec"]["ports"][0].update(targetPort="metrics"),
        "MLS632",
        ("deployment", "port"),
    ),
    (
        "hpa scales a missing deployment",
        _set("aks/hpa.yaml", "spec", "scaleTargetRef", "name", value="ghost"),
        "MLS633",
        ("deployment", "replicas"),
    ),
    (
        "missing service account",
        lambda docs: _pod(docs).update(serviceAccountName="ghost"),
        "MLS633",
        ("deployment", "identity"),
    ),
    (
        "missing config map",
        lambda docs: _container(docs)["envFrom"][0]["configMapRef"].update(name="ghost"),
        "MLS633",
        ("deployment",),
    ),
    ("secret not mounted", _drop_object, "MLS634", ("deployment", "secrets", 1)),
    (
        "objects do not parse",
        _set("aks/secretproviderclass.yaml", "spec", "parameters", "objects", value="array: [unclosed"),
        "MLS634",
        ("deployment", "secrets"),
    ),
    (
        "image from another registry",
        lambda docs: _container(docs).update(image="docker.io/library/python:3.11"),
        "MLS635",
        ("workspace", "container_registry"),
    ),
    (
        "image tagged latest",
        lambda docs: _container(docs).update(image="acrscoringdev.azurecr.io/scoring/scorer:latest"),
        "MLS635",
        ("deployment",),
    ),
    (
        "image the task does not push",
        lambda docs: _container(docs).update(image="acrscoringdev.azurecr.io/scoring/scorer:0123456789ab"),
        "MLS635",
        ("deployment",),
    ),
    (
        "writable root file system",
        lambda docs: _container(docs)["securityContext"].update(readOnlyRootFilesystem=False),
        "MLS636",
        ("deployment",),
    ),
    (
        "may run as root",
        lambda docs: _pod(docs)["securityContext"].pop("runAsNonRoot"),
        "MLS636",
        ("deployment",),
    ),
    (
        "capabilities kept",
        lambda docs: _container(docs)["securityContext"].pop("capabilities"),
        "MLS636",
        ("deployment",),
    ),
    ("host network", lambda docs: _pod(docs).update(hostNetwork=True), "MLS636", ("deployment",)),
    (
        "password in the config map",
        lambda docs: docs["aks/configmap.yaml"]["data"].update(DB_PASSWORD="correct-horse-battery"),
        "MLS637",
        ("deployment",),
    ),
    (
        "credential in an env var",
        lambda docs: _container(docs).update(
            env=[
                {
                    "name": "UPSTREAM",
                    "value": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abcdefgh",
                }
            ]
        ),
        "MLS637",
        ("deployment",),
    ),
    (
        "service made public",
        lambda docs: docs["aks/service.yaml"]["metadata"].pop("annotations"),
        "MLS639",
        ("deployment", "network"),
    ),
]


def test_the_rendered_base_project_passes_every_check() -> None:
    assert render(BASE).diagnostics == []


@pytest.mark.parametrize(("fault", "mutate", "code", "path"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_check_reports_the_fault_at_the_spec_path(
    fault: str, mutate: Mutation, code: str, path: tuple[str | int, ...]
) -> None:
    rendered = render(BASE)
    docs = {p: a.data for p, a in rendered.out.artifacts.items()}
    mutate(docs)
    found = aks.check(rendered.ctx, rendered.out)
    assert (code, path) in {(d.code, d.path) for d in found}, [str(d) for d in found]
    hit = next(d for d in found if d.code == code and d.path == path)
    assert hit.is_error
    assert hit.location is not None and hit.location.file.endswith("mlproject.yaml"), "located in the spec"


def test_a_kubernetes_secret_in_the_build_is_reported() -> None:
    rendered = render(BASE)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leak"}, "stringData": {"k": "v"}}
    rendered.out.artifacts["aks/secret.yaml"] = Artifact("aks/secret.yaml", b"", secret)
    assert "MLS637" in {d.code for d in aks.check(rendered.ctx, rendered.out)}


def test_both_surge_and_unavailable_zero_is_an_error(tmp_path: Path) -> None:
    spec = variant(tmp_path, lambda d: d["deployment"]["rollout"].update(max_surge=0, max_unavailable="0%"))
    expected = [("MLS639", ("deployment", "rollout"))]
    assert [(d.code, d.path) for d in _s.spec_diagnostics(spec) if d.is_error] == expected  # validate
    found = render(spec, checked=False).errors  # and the rendered-manifest check, as defence in depth
    assert [(d.code, d.path) for d in found] == expected


def test_checks_are_silent_without_a_deployment(tmp_path: Path) -> None:
    rendered = render(variant(tmp_path, lambda d: d.pop("deployment")))
    assert rendered.out.artifacts == {}
    assert rendered.diagnostics == []


@pytest.mark.parametrize(
    ("key", "value", "reported"),
    [
        ("DB_PASSWORD", "/mnt/secrets/db-password", False),
        ("UPSTREAM_TOKEN", '{"upstream": "/mnt/secrets/upstream-token"}', False),
        ("DB_PASSWORD", "hunter2", True),
        ("UPSTREAM_TOKEN", '{"upstream": "/etc/passwd"}', True),
    ],
)
def test_secret_named_settings_may_only_point_at_mounted_files(key: str, value: str, reported: bool) -> None:
    rendered = render(BASE)
    rendered.out.artifacts["aks/configmap.yaml"].data["data"][key] = value
    codes = {d.code for d in aks.check(rendered.ctx, rendered.out)}
    assert ("MLS637" in codes) is reported


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", "0.5"), ("1Gi", "1073741824"), ("2", "2"), ("1e3", "1000"), (".5Ki", "512"), ("1.5", "1.5")],
)
def test_quantities_parse_as_kubernetes_reads_them(text: str, value: str) -> None:
    from decimal import Decimal

    from mlspec.compiler.aks.object_rules import quantity

    assert quantity(text) == Decimal(value)
    assert quantity("1 Gi") is None and quantity("lots") is None and quantity(True) is None
