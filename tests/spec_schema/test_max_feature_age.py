"""``monitoring.retrain.max_feature_age``: a duration (MLS408), one day when not written."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec import api
from mlspec.spec_schema.models import DEFAULT_MAX_FEATURE_AGE

from .spec_text import Validate, contract_with

ON_ALERTS = "    on_alerts: [feature-drift, auc-drop]"


def _with_age(age: str) -> str:
    return contract_with((ON_ALERTS, f"{ON_ALERTS}\n    max_feature_age: {age}"))


@pytest.mark.parametrize(
    ("age", "problem"),
    [
        ("2x", "not a duration"),
        ("1w", "not a duration"),
        ("0h", "must be longer than zero"),
        ("400d", "must be at most a year"),
    ],
)
def test_a_bad_max_feature_age_is_reported_at_its_line(validate: Validate, age: str, problem: str) -> None:
    found = validate(_with_age(age)).only(
        "MLS408", f"max_feature_age {age!r}: {problem}", age, after="max_feature_age: "
    )
    assert found.path == ("monitoring", "retrain", "max_feature_age")
    assert found.hint == "a number and m, h or d: 12h, 1d"


@pytest.mark.parametrize("age", ["30m", "12h", "1d", "7d"])
def test_durations_are_accepted(validate: Validate, age: str) -> None:
    validate(_with_age(age)).assert_clean()


def test_without_it_the_features_may_be_a_day_old(tmp_path: Path) -> None:
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(contract_with(), encoding="utf-8")
    model = api.resolve(api.load(spec), None, environ={}).model
    assert model is not None and model.monitoring is not None and model.monitoring.retrain is not None
    assert model.monitoring.retrain.max_feature_age == DEFAULT_MAX_FEATURE_AGE == "1d"
