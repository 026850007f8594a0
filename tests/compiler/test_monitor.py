"""Azure Monitor ARM template: platform-valid, every alert wired, retrain exactly where asked, KQL as data."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.compiler.build import BuildResult, resolve_pointer
from mlspec.compiler.monitor import kql, template
from mlspec.compiler.monitor.windows import (
    LOG_FREQUENCIES,
    LOG_WINDOWS,
    METRIC_FREQUENCIES,
    METRIC_WINDOWS,
    iso_minutes,
)
from mlspec.compiler.platform_checks import check_arm_template
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.spec_schema.resolve import environment_names

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"
SPECS = [CONTRACT, *sorted(ROOT.glob("projects/*/mlproject.yaml"))]
CASES = [(spec, env) for spec in SPECS for env in environment_names(api.load(spec))]
IDS = [f"{s.parent.name}-{e}" for s, e in CASES]
TEMPLATE = template.TEMPLATE_FILE


def build(spec: Path, env: str | None, out: Path) -> BuildResult:
    return api.build(spec, env, out_dir=out, environ={})


def template_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / TEMPLATE).read_text(encoding="utf-8"))
    return data


def contract_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "spec" / "mlproject.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def errors_of(spec: Path, tmp_path: Path) -> list[Diagnostic]:
    with pytest.raises(MlspecError) as caught:
        build(spec, "dev", tmp_path / "out")
    return caught.value.diagnostics


def retrain_wired(alert: dict[str, Any], monitoring: dict[str, Any]) -> bool:
    listed = alert["name"] in ((monitoring.get("retrain") or {}).get("on_alerts") or [])
    return alert.get("action") == "retrain" or listed


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_alert_template_passes_the_platform_check(spec: Path, env: str, tmp_path: Path) -> None:
    build(spec, env, tmp_path)
    assert check_arm_template(template_of(tmp_path), artifact=TEMPLATE) == []


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_every_alert_has_one_rule_at_its_pointer(spec: Path, env: str, tmp_path: Path) -> None:
    result = build(spec, env, tmp_path)
    template = template_of(tmp_path)
    alerts = yaml.safe_load(spec.read_text(encoding="utf-8"))["monitoring"]["alerts"]
    by_address = {str(r.address): r for r in result.manifest.resources}
    for alert in alerts:
        found = [
            a
            for a in by_address
            if a in (f"monitor.metric_alert.{alert['name']}", f"monitor.log_alert.{alert['name']}")
        ]
        assert len(found) == 1, alert["name"]
        resource = by_address[found[0]]
        assert resource.files == [TEMPLATE]
        part = resolve_pointer(template, resource.pointer)
        assert part["name"] == f"{result.manifest.project}-{alert['name']}"
        assert resource.provider_type == f"arm:{part['type']}"
        assert (part["type"] == "Microsoft.Insights/metricAlerts") == found[0].startswith(
            "monitor.metric_alert."
        )
    for resource in result.manifest.resources:
        if resource.service == "monitor":
            assert resolve_pointer(template, resource.pointer)["type"] == resource.provider_type.removeprefix(
                "arm:"
            )


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_retrain_is_wired_exactly_for_retrain_alerts(spec: Path, env: str, tmp_path: Path) -> None:
    result = build(spec, env, tmp_path)
    template = template_of(tmp_path)
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    project, model = result.manifest.project, data["model"]["name"]
    retrain_group = f"[resourceId('Microsoft.Insights/actionGroups', '{project}-retrain')]"
    rules = {
        r["name"]: r
        for r in template["resources"]
        if r["type"].endswith(("metricAlerts", "scheduledQueryRules"))
    }
    by_address = {str(r.address): r for r in result.manifest.resources}
    for alert in data["monitoring"]["alerts"]:
        rule = rules[f"{project}-{alert['name']}"]
        actions = rule["properties"]["actions"]
        ids = actions["actionGroups"] if isinstance(actions, dict) else [a["actionGroupId"] for a in actions]
        address = next(a for a in by_address if a.endswith(f"_alert.{alert['name']}"))
        wired = retrain_wired(alert, data["monitoring"])
        assert (retrain_group in ids) == wired, alert["name"]
        assert (f"aml.pipeline.{model}" in {str(d) for d in by_address[address].depends_on}) == wired
    if any(retrain_wired(a, data["monitoring"]) for a in data["monitoring"]["alerts"]):
        group = next(
            r
            for r in template["resources"]
            if r["name"] == f"{project}-retrain" and "actionGroups" in r["type"]
        )
        receiver = group["properties"]["logicAppReceivers"][0]
        assert receiver["callbackUrl"].startswith(
            "[listCallbackUrl(resourceId('Microsoft.Logic/workflows/triggers'"
        )
        workflow = next(r for r in template["resources"] if r["type"] == "Microsoft.Logic/workflows")
        assert workflow["identity"] == {"type": "SystemAssigned"}
        trigger = by_address[f"monitor.retrain_trigger.{project}-retrain"]
        assert f"aml.schedule.{model}-retrain" in {str(d) for d in trigger.depends_on}
    assert "sig=" not in (tmp_path / TEMPLATE).read_text(encoding="utf-8")


@pytest.mark.parametrize(("spec", "env"), CASES, ids=IDS)
def test_windows_and_frequencies_are_ones_azure_accepts(spec: Path, env: str, tmp_path: Path) -> None:
    build(spec, env, tmp_path)
    for resource in template_of(tmp_path)["resources"]:
        properties = resource.get("properties", {})
        if resource["type"] == "Microsoft.Insights/metricAlerts":
            windows, frequencies = METRIC_WINDOWS, METRIC_FREQUENCIES
        elif resource["type"] == "Microsoft.Insights/scheduledQueryRules":
            windows, frequencies = LOG_WINDOWS, LOG_FREQUENCIES
        else:
            continue
        assert properties["windowSize"] in windows
        assert properties["evaluationFrequency"] in frequencies
        assert iso_minutes(properties["evaluationFrequency"]) <= iso_minutes(properties["windowSize"])


def test_contract_alerts_render_as_documented(tmp_path: Path) -> None:
    build(CONTRACT, "dev", tmp_path)
    rules = {
        r["name"]: r for r in template_of(tmp_path)["resources"] if r["type"].endswith("scheduledQueryRules")
    }
    latency = rules["churn-high-latency"]["properties"]
    assert (latency["windowSize"], latency["evaluationFrequency"], latency["severity"]) == ("PT5M", "PT1M", 2)
    condition = latency["criteria"]["allOf"][0]
    assert (condition["operator"], condition["threshold"], condition["metricMeasureColumn"]) == (
        "GreaterThan",
        250,
        "AggregatedValue",
    )
    assert "percentile(todouble(LogMessage.ms), 95)" in condition["query"]
    drift = rules["churn-feature-drift"]["properties"]["criteria"]["allOf"][0]
    assert 'Feature in ("tenure_months", "monthly_charges")' in drift["query"]
    assert drift["dimensions"] == [{"name": "Feature", "operator": "Include", "values": ["*"]}]
    auc = rules["churn-auc-drop"]["properties"]
    assert auc["criteria"]["allOf"][0]["operator"] == "LessThan"
    assert auc["windowSize"] == "P2D"  # a 7d statistic is read from the newest row of the last two days
    assert 'Metric == "roc_auc"' in auc["criteria"]["allOf"][0]["query"]


def test_cpu_and_memory_watch_the_scoring_pods_not_the_nodes(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["monitoring"]["alerts"] += [
            {"name": "cpu", "signal": "cpu_percent", "operator": ">=", "threshold": 80, "window": "15m"},
            {"name": "memory", "signal": "memory_percent", "threshold": 90, "window": "1h"},
        ]

    build(contract_with(tmp_path, change), "dev", tmp_path / "out")
    rules = {r["name"]: r for r in template_of(tmp_path / "out")["resources"]}
    cpu = rules["churn-cpu"]
    assert cpu["type"] == "Microsoft.Insights/scheduledQueryRules"
    assert cpu["properties"]["scopes"] == [
        "[resourceId('Microsoft.OperationalInsights/workspaces', 'log-ml-dev')]"
    ]
    condition = cpu["properties"]["criteria"]["allOf"][0]
    assert condition["operator"] == "GreaterThanOrEqual" and condition["threshold"] == 80
    query = condition["query"]
    assert "node_cpu_usage_percentage" not in json.dumps(cpu)
    assert query.startswith("let scoring = KubePodInventory\n")
    for clause in (
        '| where ClusterName == "aks-ml-dev"',
        '| where Namespace == "churn"',
        '| where tostring(Labels["app.kubernetes.io/name"]) == "churn-scoring"',
        '| where tostring(Labels["app.kubernetes.io/part-of"]) == "churn"',
        '| where tostring(split(ContainerName, "/")[1]) == "scoring"',
        '| where ObjectName == "K8SContainer"',
        '| where CounterName in ("cpuUsageNanoCores", "cpuLimitNanoCores")',
        "| where InstanceName in (scoring)",
        "| summarize AggregatedValue = avg(100.0 * Usage / Limit)",
    ):
        assert clause in query
    assert (cpu["properties"]["windowSize"], cpu["properties"]["evaluationFrequency"]) == ("PT15M", "PT5M")
    memory = rules["churn-memory"]["properties"]
    assert (
        'CounterName in ("memoryWorkingSetBytes", "memoryLimitBytes")'
        in (memory["criteria"]["allOf"][0]["query"])
    )
    assert (memory["windowSize"], memory["evaluationFrequency"]) == ("PT1H", "PT15M")


def test_request_rate_is_a_metric_alert_only_with_application_insights(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["workspace"]["application_insights"] = "appi-churn-${environment.name}"
        data["monitoring"]["alerts"].append(
            {"name": "traffic", "signal": "request_rate", "operator": "<", "threshold": 1, "window": "30m"}
        )

    build(contract_with(tmp_path, change), "dev", tmp_path / "out")
    rule = next(r for r in template_of(tmp_path / "out")["resources"] if r["name"] == "churn-traffic")
    criterion = rule["properties"]["criteria"]["allOf"][0]
    assert (criterion["metricName"], criterion["metricNamespace"]) == (
        "requests/rate",
        "microsoft.insights/components",
    )
    assert rule["properties"]["scopes"] == ["[resourceId('Microsoft.Insights/components', 'appi-churn-dev')]"]


def test_a_window_azure_does_not_accept_is_reported_at_the_window(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["monitoring"]["alerts"][0]["window"] = "20m"

    spec = contract_with(tmp_path, change)
    found = [
        d for d in errors_of(spec, tmp_path) if d.code == "MLS415"
    ]  # validate refuses it (build: MLS640)
    assert [d.path for d in found] == [("monitoring", "alerts", 0, "window")]
    assert found[0].location is not None and found[0].location.file == str(spec)
    assert "window:" in spec.read_text(encoding="utf-8").splitlines()[found[0].location.line - 1]


def test_a_webhook_carrying_a_key_is_refused(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["monitoring"]["notify"]["webhook"] = ["https://hooks.example.com/alert?code=abc123"]

    found = [d for d in errors_of(contract_with(tmp_path, change), tmp_path) if d.code == "MLS645"]
    assert [d.path for d in found] == [("monitoring", "notify", "webhook", 0)]


def test_alert_triggered_retraining_needs_a_retrain_schedule(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        del data["monitoring"]["retrain"]["schedule"]

    found = [d for d in errors_of(contract_with(tmp_path, change), tmp_path) if d.code == "MLS311"]
    assert [d.path for d in found] == [("monitoring", "retrain")]  # validate refuses it (build: MLS647)


def test_webhooks_and_emails_go_to_the_notify_group(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["monitoring"]["notify"]["webhook"] = ["https://hooks.example.com/mlops"]

    build(contract_with(tmp_path, change), "dev", tmp_path / "out")
    group = next(r for r in template_of(tmp_path / "out")["resources"] if r["name"] == "churn-notify")
    assert group["location"] == "Global" and len(group["properties"]["groupShortName"]) <= 12
    assert group["properties"]["emailReceivers"] == [
        {"name": "email-1", "emailAddress": "ml-oncall@contoso.com", "useCommonAlertSchema": True}
    ]
    assert group["properties"]["webhookReceivers"] == [
        {"name": "webhook-1", "serviceUri": "https://hooks.example.com/mlops", "useCommonAlertSchema": True}
    ]


HOSTILE = "[concat('x')] ' \" \n\t {{ a }} ${{ b }} </script> ../../etc `} | union * // ;"


def test_hostile_description_stays_data(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["monitoring"]["alerts"][0]["description"] = HOSTILE

    build(contract_with(tmp_path, change), "dev", tmp_path / "out")
    template = template_of(tmp_path / "out")
    rule = next(r for r in template["resources"] if r["name"] == "churn-high-latency")
    assert rule["properties"]["description"] == "[" + HOSTILE  # a leading "[" is escaped: ARM keeps it text
    assert check_arm_template(template) == []


def _decode_kql(expression: str) -> str:
    """Evaluate a string expression made of "..." literals, make_string(n) and strcat(...)."""
    token = re.compile(r'"((?:[^"\\]|\\.)*)"|make_string\((\d+)\)')
    inner = expression[len("strcat(") : -1] if expression.startswith("strcat(") else expression
    out, position = [], 0
    escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}
    for match in token.finditer(inner):
        assert inner[position : match.start()].strip(" ,") == "", expression
        position = match.end()
        if match[1] is not None:
            out.append(re.sub(r"\\(.)", lambda m: escapes[m[1]], match[1]))
        else:
            out.append(chr(int(match[2])))
    assert inner[position:].strip() == ""
    return "".join(out)


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        'quote " and \\ backslash',
        "line\nbreak\ttab",
        "\x00nul\x1b[31m",
        'x") | union *',
        "\u2028sep",
        "",
    ],
)
def test_kql_string_literal_evaluates_to_the_value(value: str) -> None:
    literal = kql.string_literal(value)
    assert "\n" not in literal and "\r" not in literal
    assert _decode_kql(literal) == value


def test_hostile_feature_names_stay_kql_data() -> None:
    features = ['a" or 1==1 //', "b\nc", "d\x00e"]
    query, split = kql.statistic_query(
        "data_drift", "churn", "dev", "m", features=features, window="P1D", metric=None, rising=True
    )
    assert split
    assert query.count("\n") == 5  # the feature names added no line
    assert (
        '(Feature == "a\\" or 1==1 //" or Feature == "b\\nc" or Feature == strcat("d", make_string(0), "e"))'
        in query
    )


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    build(CONTRACT, "prod", tmp_path / "one")
    build(CONTRACT, "prod", tmp_path / "two")
    assert (tmp_path / "one" / TEMPLATE).read_bytes() == (tmp_path / "two" / TEMPLATE).read_bytes()
