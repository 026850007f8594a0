"""check_arm_template: the template, Azure Monitor resources (azure-mgmt-monitor) and role assignments."""

import json
from pathlib import Path
from typing import Any

import pytest

from mlspec.compiler.platform_checks import PlatformProblem, check_arm_template

ARM = Path(__file__).parent / "data" / "arm"
ACTION_GROUP, METRIC_ALERT, LOG_ALERT, ROLE = (f"/resources/{i}" for i in range(4))


def located(problems: list[PlatformProblem]) -> list[tuple[str, str]]:
    return [(p.where, p.checker) for p in problems]


@pytest.fixture
def template() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ARM / "monitoring.json").read_text())
    return data


def properties(template: dict[str, Any], index: int) -> dict[str, Any]:
    props: dict[str, Any] = template["resources"][index]["properties"]
    return props


def test_valid_template_with_expressions_has_no_problems(template: dict[str, Any]) -> None:
    # severity is "[parameters('alertSeverity')]" where the model wants an int: it must not break from_dict.
    assert properties(template, 1)["severity"].startswith("[parameters(")
    assert check_arm_template(template) == []


def test_duration_written_as_5m(template: dict[str, Any]) -> None:
    properties(template, 1)["windowSize"] = "5m"
    problems = check_arm_template(template)
    assert located(problems) == [(f"{METRIC_ALERT}/properties/windowSize", "azure-mgmt-monitor")]
    assert problems[0].message == "cannot read '5m' as an ISO 8601 duration such as PT5M"


def test_operator_above_is_not_an_enum_value(template: dict[str, Any]) -> None:
    properties(template, 1)["criteria"]["allOf"][0]["operator"] = "Above"
    problems = check_arm_template(template)
    assert located(problems) == [(f"{METRIC_ALERT}/properties/criteria/allOf/0/operator", "mlspec")]
    assert (
        problems[0].message
        == "'Above' is not one of Equals, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual"
    )


def test_missing_required_fields_of_a_metric_alert(template: dict[str, Any]) -> None:
    alert = properties(template, 1)
    del alert["evaluationFrequency"]
    del alert["criteria"]["allOf"][0]["metricName"]
    problems = check_arm_template(template)
    assert located(problems) == [
        (f"{METRIC_ALERT}/properties/evaluationFrequency", "azure-mgmt-monitor"),
        (f"{METRIC_ALERT}/properties/criteria/allOf/0/metricName", "azure-mgmt-monitor"),
    ]
    assert problems[1].message == "missing required field 'metricName'"


def test_odata_type_and_criterion_type_discriminators(template: dict[str, Any]) -> None:
    criteria = properties(template, 1)["criteria"]
    criteria["allOf"][0]["criterionType"] = "StaticThreshold"
    problems = check_arm_template(template)
    assert located(problems) == [
        (f"{METRIC_ALERT}/properties/criteria/allOf/0/criterionType", "azure-mgmt-monitor")
    ]
    assert "must be 'StaticThresholdCriterion'" in problems[0].message
    criteria["allOf"][0]["criterionType"] = "StaticThresholdCriterion"
    criteria["odata.type"] = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriterion"
    problems = check_arm_template(template)
    assert located(problems) == [(f"{METRIC_ALERT}/properties/criteria/odata.type", "mlspec")]
    assert (
        "did you mean 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'?" in problems[0].message
    )


def test_severity_frequency_and_scope_rules_the_sdk_does_not_carry(template: dict[str, Any]) -> None:
    alert = properties(template, 1)
    alert["severity"] = 5
    alert["evaluationFrequency"] = "PT2M"
    alert["scopes"] = ["churn-endpoint"]
    problems = check_arm_template(template)
    assert [(p.where, p.message) for p in problems] == [
        (f"{METRIC_ALERT}/properties/severity", "severity 5 is not between 0 and 4"),
        (
            f"{METRIC_ALERT}/properties/scopes/0",
            "'churn-endpoint' is not a resource ID (/subscriptions/...) nor an ARM expression",
        ),
        (
            f"{METRIC_ALERT}/properties/evaluationFrequency",
            "'PT2M' is not one of PT1M, PT5M, PT15M, PT30M, PT1H",
        ),
    ]


def test_action_group_short_name_and_unknown_receiver_key(template: dict[str, Any]) -> None:
    group = properties(template, 0)
    group["groupShortName"] = "churn-oncall-team"
    group["emailReceivers"][0]["emailAdress"] = group["emailReceivers"][0].pop("emailAddress")
    problems = check_arm_template(template)
    assert located(problems) == [
        (f"{ACTION_GROUP}/properties/groupShortName", "azure-mgmt-monitor"),
        (f"{ACTION_GROUP}/properties/emailReceivers/0/emailAddress", "azure-mgmt-monitor"),
        (f"{ACTION_GROUP}/properties/emailReceivers/0/emailAdress", "mlspec"),
    ]
    assert problems[0].message == "'churn-oncall-team' is longer than 12 characters"


def test_log_alert_needs_its_query_and_known_aggregation(template: dict[str, Any]) -> None:
    condition = properties(template, 2)["criteria"]["allOf"][0]
    del condition["query"]
    condition["timeAggregation"] = "Sum"
    problems = check_arm_template(template)
    assert located(problems) == [
        (f"{LOG_ALERT}/properties/criteria/allOf/0/timeAggregation", "mlspec"),
        (f"{LOG_ALERT}/properties/criteria/allOf/0/query", "mlspec"),
    ]
    assert "'Sum' is not one of Average, Count, Maximum, Minimum, Total" in problems[0].message


def test_role_assignment_rules(template: dict[str, Any]) -> None:
    role = template["resources"][3]
    role["name"] = "[concat('churn-', parameters('scorerPrincipalId'))]"
    role["properties"]["principalType"] = "ServicePrinciple"
    del role["properties"]["roleDefinitionId"]
    problems = check_arm_template(template)
    assert [(p.where, p.checker) for p in problems] == [
        (f"{ROLE}/name", "mlspec"),
        (f"{ROLE}/properties/roleDefinitionId", "mlspec"),
        (f"{ROLE}/properties/principalType", "mlspec"),
    ]
    assert "must be built with guid(...)" in problems[0].message
    assert problems[1].message == "missing required field 'roleDefinitionId'"
    assert "did you mean 'ServicePrincipal'?" in problems[2].message


def test_role_assignment_literal_ids(template: dict[str, Any]) -> None:
    role = template["resources"][3]
    role["name"] = "7f0c6c1e-3c7b-4d4f-9a43-2c8d5e7b9a10"
    role["properties"]["principalId"] = "churn-scorer"
    role["properties"]["roleDefinitionId"] = "/providers/Microsoft.Authorization/roleDefinitions/AzureML"
    problems = check_arm_template(template)
    assert [p.where for p in problems] == [
        f"{ROLE}/properties/roleDefinitionId",
        f"{ROLE}/properties/principalId",
    ]


def test_template_structure_and_undeclared_parameters(template: dict[str, Any]) -> None:
    template["contentVersion"] = "1.0"
    template["output"] = {}
    del template["$schema"]
    properties(template, 2)["scopes"] = ["[parameters('workspace')]"]
    problems = check_arm_template(template)
    assert [(p.where, p.message) for p in problems] == [
        ("/output", "unknown top-level field 'output' (did you mean 'outputs'?)"),
        ("/$schema", "missing required field '$schema'"),
        ("/contentVersion", "'1.0' is not a four-part version such as 1.0.0.0"),
        (
            f"{LOG_ALERT}/properties/scopes/0",
            "parameters('workspace') is not declared in the template (did you mean 'workspaceId'?)",
        ),
    ]


def test_api_version_other_than_the_models(template: dict[str, Any]) -> None:
    template["resources"][1]["apiVersion"] = "2024-03-01-preview"
    problems = check_arm_template(template)
    assert located(problems) == [(f"{METRIC_ALERT}/apiVersion", "mlspec")]
    assert "checked against api-version 2018-03-01" in problems[0].message
