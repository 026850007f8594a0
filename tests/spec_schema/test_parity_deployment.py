"""Parity: what the AKS, access, Azure ML and Monitor builds refuse or warn about, `validate` reports first.

Each case changes a spec that builds cleanly so that one build-time rule fires, then checks that
``api.validate_file(..., all_environments=True)`` reports it (code, severity, message, line) and that
``api.build`` reports it exactly once: a build refused by the spec checks shows the check's error, a build
that goes on shows the check's warning and the renderer does not repeat it.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.diagnostics import Diagnostic, MlspecError

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
SCRIPT_PROJECT = ROOT / "tests" / "compiler" / "data" / "azureml" / "script_project" / "mlproject.yaml"

Change = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Case:
    code: str
    is_error: bool
    message: str
    """A part of the message."""
    line_of: str
    """A text unique in the written spec: the diagnostic is on its line."""
    change: Change
    base: Path = CONTRACT
    nth: int = 1
    """Which occurrence of ``line_of`` (1 = the first)."""


def _set(*path: str | int, value: Any) -> Change:
    def change(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _both(*changes: Change) -> Change:
    def change(data: dict[str, Any]) -> None:
        for one in changes:
            one(data)

    return change


def _drop(*path: str) -> Change:
    def change(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _grant(scope: str, role: str = "AzureML Data Scientist") -> dict[str, Any]:
    return {"principal": {"group": "00000000-0000-0000-0000-000000000000"}, "role": role, "scope": scope}


def _drift(**fields: Any) -> Change:
    def change(data: dict[str, Any]) -> None:
        alert = next(a for a in data["monitoring"]["alerts"] if a["name"] == "feature-drift")
        alert.update(fields)

    return change


def _second_container_source(data: dict[str, Any]) -> None:
    data["sources"]["more_customers"] = {
        "path": "abfss://raw@${var.lake_account}.dfs.core.windows.net/crm/more/",
        "format": "parquet",
    }
    data["access"]["grants"] = [
        _grant("customers", "Storage Blob Data Reader"),
        {"description": "marker-second-grant", **_grant("more_customers", "Storage Blob Data Reader")},
    ]


CASES: dict[str, Case] = {
    # --- AKS: the serving inputs (render.py) -----------------------------------------------------------
    "reserved-namespace": Case(
        "MLS638",
        True,
        "belongs to the cluster's own components",
        "namespace: kube-system",
        _set("deployment", "namespace", value="kube-system"),
    ),
    "subnet-name": Case(
        "MLS638",
        True,
        "not an Azure subnet name",
        "subnet: snet bad",
        _set("deployment", "network", "subnet", value="snet bad"),
    ),
    "no-model": Case(
        "MLS638",
        True,
        "there is no model section",
        "  target: aks",
        _both(_drop("model"), _drop("monitoring"), _set("reports", value=[])),
    ),
    "conda": Case(
        "MLS638",
        False,
        "conda packages are not installed in the serving image",
        "- libgomp",
        _set("model", "training", "environment", "conda", value=["libgomp"]),
    ),
    "pip-entry": Case(
        "MLS638",
        True,
        "cannot go into the image's requirements.txt",
        "--index-url",
        _set(
            "model",
            "training",
            "environment",
            "pip",
            value=["pandas", "--index-url https://x.example/simple"],
        ),
    ),
    "two-vaults": Case(
        "MLS634",
        True,
        "come from 2 Key Vaults",
        "- crm_api_key",
        _set("access", "secrets", "crm_api_key", "key_vault", value="kv-elsewhere"),
    ),
    "two-versions": Case(
        "MLS634",
        True,
        "is mounted at two versions",
        "- crm_key_pinned",
        _both(
            _set(
                "access",
                "secrets",
                "crm_key_pinned",
                value={"key_vault": "${workspace.key_vault}", "name": "crm-api-key", "version": "v2"},
            ),
            _set("deployment", "secrets", value=["crm_api_key", "crm_key_pinned"]),
        ),
    ),
    "request-above-limit": Case(
        "MLS630",
        True,
        "memory request 1Gi is more than its limit 512Mi",
        "memory_limit: 512Mi",
        _set("deployment", "resources", "memory_limit", value="512Mi"),
    ),
    "zero-cpu-request": Case(
        "MLS630",
        True,
        "a cpu request of 0m: the autoscaler's target_cpu_percent is a share of the request",
        "cpu: 0m",
        _set("deployment", "resources", "cpu", value="0m"),
    ),
    "zero-memory-request": Case(
        "MLS630",
        True,
        "a memory request of 0: the request is also the limit when none is set",
        "memory: '0'",
        _set("deployment", "resources", "memory", value="0"),
    ),
    # --- AKS: rollout and network (render.py notes, policy_rules.py) -----------------------------------
    "rollout-cannot-start": Case(
        "MLS639",
        True,
        "max_surge and max_unavailable are both 0",
        "strategy: rolling",
        _set("deployment", "rollout", value={"strategy": "rolling", "max_surge": 0, "max_unavailable": "0%"}),
    ),
    "canary-split": Case(
        "MLS639",
        False,
        "so the canary gets 14% of requests",
        "canary_percent: 5",
        _both(
            _set("deployment", "rollout", value={"strategy": "canary", "canary_percent": 5}),
            _set("deployment", "replicas", value={"min": 2, "max": 6}),
            _set("environments", "prod", "overrides", value={}),
        ),
    ),
    "open-endpoint": Case(
        "MLS639",
        False,
        "network.allow_from is empty",
        "internal_load_balancer: true",
        _set("deployment", "network", "allow_from", value=[]),
    ),
    # --- access (checks.py, template.py) ---------------------------------------------------------------
    "duplicate-grant": Case(
        "MLS651",
        True,
        "grant repeats grants[0]: same principal, role and scope",
        "marker-second-grant",
        _set(
            "access",
            "grants",
            value=[
                _grant("machine_learning"),
                {"description": "marker-second-grant", **_grant("machine_learning")},
            ],
        ),
    ),
    "same-container-grant": Case(
        "MLS651",
        True,
        "is the lake container of 'customers'",
        "marker-second-grant",
        _second_container_source,
    ),
    "subscription-scope": Case(
        "MLS652",
        True,
        "needs a subscription-level deployment",
        "scope: subscription",
        _set("access", "grants", 0, "scope", value="subscription"),
    ),
    "identity-by-client-id": Case(
        "MLS653",
        False,
        "identity is given by client id",
        "client_id: 00000000-0000-0000-0000-0000000000bb",
        _set("deployment", "identity", value={"client_id": "00000000-0000-0000-0000-0000000000bb"}),
    ),
    # --- Azure ML (render.py, schedule_checks.py) ------------------------------------------------------
    "training-format": Case(
        "MLS627",
        True,
        "training data 'web_logs' is text",
        "data: web_logs",
        _both(
            _set("sources", "web_logs", "format", value="text"),
            _set("model", "training", "data", value="web_logs"),
            _set("model", "training", "features", value=["value"]),
            _set("model", "training", "target", value="label"),
            _set("monitoring", "alerts", value=[]),
            _set("monitoring", "retrain", value={"schedule": "0 3 * * 1"}),
            _set("reports", value=[]),
        ),
    ),
    "monitor-needs-serving-log": Case(
        "MLS629",
        False,
        "need the serving log as production data",
        "  target: aks",
        _both(_drop("deployment", "log_predictions"), _set("reports", value=[])),
    ),
    "unknown-drift-metric": Case(
        "MLS625",
        True,
        "'pearsons_chi_squared_tset' is not a numerical data_drift metric",
        "pearsons_chi_squared_tset",
        _drift(metric="pearsons_chi_squared_tset"),
    ),
    "drift-operator": Case(
        "MLS625",
        False,
        "Azure ML alerts when two_sample_kolmogorov_smirnov_test is below the threshold",
        "operator: '>='",
        _drift(metric="two_sample_kolmogorov_smirnov_test", operator=">="),
    ),
    "comma-feature": Case(
        "MLS628",
        True,
        "contains a comma",
        "- a,b",
        _both(
            _set("sources", "patients", "schema", "a,b", value="double"),
            _set("model", "training", "features", value=["age", "bmi", "s5", "a,b"]),
        ),
        SCRIPT_PROJECT,
    ),
    # --- Monitor (checks.py) ---------------------------------------------------------------------------
    "webhook-credential": Case(
        "MLS645",
        True,
        "this webhook URL carries a credential",
        "hooks.example.com",
        _set("monitoring", "notify", "webhook", value=["https://hooks.example.com/alert?code=abc123"]),
    ),
    "on-alerts-action": Case(
        "MLS646",
        False,
        "is in retrain.on_alerts but says action: notify",
        "action: notify",
        _drift(action="notify"),
    ),
}


def _write(tmp_path: Path, case: Case) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(case.base.parent, folder, ignore=shutil.ignore_patterns("build", ".mlspec"))
    data = copy.deepcopy(yaml.safe_load(case.base.read_text(encoding="utf-8")))
    case.change(data)
    spec = folder / "mlproject.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False, width=1000), encoding="utf-8")
    return spec


def _line(spec: Path, needle: str, nth: int = 1) -> int:
    lines = [i for i, text in enumerate(spec.read_text(encoding="utf-8").splitlines(), 1) if needle in text]
    assert len(lines) == 1 or nth > 1, f"{needle!r} is on lines {lines}"
    return lines[nth - 1]


def _matching(found: list[Diagnostic], case: Case) -> list[Diagnostic]:
    return [d for d in found if d.code == case.code and case.message in d.message]


@pytest.mark.parametrize("name", list(CASES))
def test_validate_reports_the_build_rule_at_its_line(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    spec = _write(tmp_path, case)
    result = api.validate_file(spec, all_environments=True, environ={})
    matching = _matching(result.diagnostics, case)
    assert matching, [str(d) for d in result.diagnostics]
    for found in matching:  # one per environment when the message names per-environment values
        assert found.is_error is case.is_error
        assert found.location is not None and found.location.file == str(spec)
        assert found.location.line == _line(spec, case.line_of, case.nth), str(found)
    assert result.ok is not case.is_error, [str(d) for d in result.diagnostics if d.is_error]


@pytest.mark.parametrize("name", list(CASES))
def test_build_reports_the_rule_once(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    spec = _write(tmp_path, case)
    if case.is_error:
        with pytest.raises(MlspecError) as refused:
            api.build(spec, "dev", environ={})
        found = refused.value.diagnostics
    else:
        found = api.build(spec, "dev", environ={}).diagnostics
    assert len(_matching(found, case)) == 1, [str(d) for d in found if d.code == case.code]


def test_an_unparsable_training_script_is_a_warning_at_the_script_line(tmp_path: Path) -> None:
    case = Case(
        "MLS626",
        False,
        "is not valid Python (line 1)",
        "script: src/train.py",
        lambda d: None,
        SCRIPT_PROJECT,
    )
    spec = _write(tmp_path, case)
    (spec.parent / "src" / "train.py").write_text("def broken(:\n", encoding="utf-8")
    [found] = _matching(api.validate_file(spec, all_environments=True, environ={}).diagnostics, case)
    assert not found.is_error and found.location is not None
    assert found.location.line == _line(spec, case.line_of)
    assert len(_matching(api.build(spec, "dev", environ={}).diagnostics, case)) == 1


def test_a_training_script_that_is_not_utf8_is_an_error_at_the_script_line(tmp_path: Path) -> None:
    case = Case(
        "MLS626", True, "it is not UTF-8 text", "script: src/train.py", lambda d: None, SCRIPT_PROJECT
    )
    spec = _write(tmp_path, case)
    (spec.parent / "src" / "train.py").write_bytes(b"print('\xff')\n")
    [found] = _matching(api.validate_file(spec, all_environments=True, environ={}).diagnostics, case)
    assert found.is_error and found.location is not None
    assert found.location.line == _line(spec, case.line_of)
    with pytest.raises(MlspecError) as refused:
        api.build(spec, "dev", environ={})
    assert len(_matching(refused.value.diagnostics, case)) == 1


def test_drift_alerts_without_a_deployment_are_named_as_never_firing(tmp_path: Path) -> None:
    from mlspec import api

    text = (
        Path(__file__).resolve().parents[1] / "compiler" / "data" / "contract" / "mlproject.yaml"
    ).read_text()
    start, end = text.index("deployment:  "), text.index("monitoring:  ")
    spec_text = text[:start] + text[end:]
    spec_text = spec_text.replace("    overrides:\n      deployment: {replicas: {min: 3, max: 20}}\n", "")
    spec_text = spec_text.replace("tables: [customer_features, predictions]", "tables: [customer_features]")
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(spec_text)
    found = [d for d in api.validate_file(spec, environ={}).diagnostics if d.code == "MLS629"]
    assert found and all("never fires" in d.message and not d.is_error for d in found)
    assert all(d.path[:2] == ("monitoring", "alerts") for d in found)
