"""The walk over generated SDK models: expressions, placeholders and what from_dict lets through."""

import json
from pathlib import Path
from typing import Any

from mlspec.compiler.platform_checks import check_arm_template

ARM = Path(__file__).parent / "data" / "arm"


def template_with(resource: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((ARM / "monitoring.json").read_text())
    template["resources"] = [resource]
    return template


def metric_alert() -> dict[str, Any]:
    resource: dict[str, Any] = json.loads((ARM / "monitoring.json").read_text())["resources"][1]
    resource.pop("dependsOn")
    return resource


def test_expressions_stand_in_for_any_type() -> None:
    alert = metric_alert()
    alert["properties"]["enabled"] = "[parameters('enabled')]"
    alert["properties"]["windowSize"] = "[parameters('window')]"
    alert["properties"]["criteria"]["allOf"][0]["threshold"] = "[parameters('threshold')]"
    alert["properties"]["actions"] = "[parameters('actions')]"
    template = template_with(alert)
    template["parameters"].update(
        {
            name: {"type": kind}
            for name, kind in [
                ("enabled", "bool"),
                ("window", "string"),
                ("threshold", "int"),
                ("actions", "array"),
            ]
        }
    )
    assert check_arm_template(template) == []


def test_expression_for_a_whole_object_skips_what_is_inside() -> None:
    alert = metric_alert()
    alert["properties"]["criteria"] = "[parameters('criteria')]"
    template = template_with(alert)
    template["parameters"]["criteria"] = {"type": "object"}
    assert check_arm_template(template) == []


def test_escaped_bracket_is_a_literal_not_an_expression() -> None:
    alert = metric_alert()
    alert["properties"]["windowSize"] = "[[PT5M]"
    problems = check_arm_template(template_with(alert))
    assert [p.where for p in problems] == ["/resources/0/properties/windowSize"]
    assert "cannot read '[[PT5M]' as an ISO 8601 duration" in problems[0].message


def test_wrong_json_types_the_sdk_would_coerce() -> None:
    alert = metric_alert()
    alert["properties"]["enabled"] = "true"
    alert["properties"]["criteria"]["allOf"][0]["threshold"] = "500"
    problems = check_arm_template(template_with(alert))
    assert [(p.where, p.message, p.checker) for p in problems] == [
        ("/resources/0/properties/enabled", "expected a boolean, got a string 'true'", "mlspec"),
        (
            "/resources/0/properties/criteria/allOf/0/threshold",
            "expected a number, got a string '500'",
            "mlspec",
        ),
    ]


def test_properties_that_are_not_an_object() -> None:
    alert = metric_alert()
    alert["properties"] = ["severity", 2]
    problems = check_arm_template(template_with(alert))
    assert [(p.where, p.message) for p in problems] == [
        ("/resources/0/properties", "expected an object, got a list")
    ]
