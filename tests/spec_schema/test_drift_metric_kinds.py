"""MLS322: a drift alert whose metric its features' kind never gets would never fire for them (a
Wasserstein distance of a text column, a chi-squared test of a double), on Azure ML as in mlspec's
monitoring job; so ``validate`` refuses it at the alert's metric."""

from __future__ import annotations

import pytest

from .spec_text import Validate, contract_with

ALERT = """    - {name: feature-drift, signal: data_drift, features: [tenure_months, monthly_charges],
       threshold: 0.2, window: 1d, action: retrain}"""
FEATURES = "    features: [tenure_months, monthly_charges, visits]"


def _alert(features: str, metric: str, operator: str = ">") -> str:
    return contract_with(
        (FEATURES, "    features: [tenure_months, monthly_charges, visits, customer_id]"),
        (
            ALERT,
            f"""    - {{name: feature-drift, signal: data_drift, features: {features}, metric: {metric},
       operator: "{operator}", threshold: 0.2, window: 1d, action: retrain}}""",
        ),
    )


@pytest.mark.parametrize(
    ("features", "metric", "operator"),
    [
        ("[tenure_months, monthly_charges]", "normalized_wasserstein_distance", ">"),
        ("[tenure_months, monthly_charges]", "two_sample_kolmogorov_smirnov_test", "<"),
        ("[customer_id, tenure_months]", "pearsons_chi_squared_test", "<"),  # an int may be categorical
        ("[customer_id, monthly_charges]", "jensen_shannon_distance", ">"),  # both kinds
        ("[customer_id, monthly_charges]", "population_stability_index", ">"),
    ],
)
def test_metrics_that_fit_their_features_validate(
    validate: Validate, features: str, metric: str, operator: str
) -> None:
    assert "MLS322" not in validate(_alert(features, metric, operator)).codes


def test_a_numerical_metric_on_a_text_feature_is_refused_at_the_metric(validate: Validate) -> None:
    found = validate(_alert("[customer_id, monthly_charges]", "normalized_wasserstein_distance")).only(
        "MLS322",
        "normalized_wasserstein_distance is computed only for numerical features, and it watches "
        "customer_id (string): it would never fire for it",
        "normalized_wasserstein_distance",
    )
    assert found.hint is not None and "jensen_shannon_distance" in found.hint


def test_a_feature_listed_twice_is_named_once(validate: Validate) -> None:
    found = validate(_alert("[customer_id, customer_id]", "normalized_wasserstein_distance")).one(
        "MLS322",
        "it watches customer_id (string): it would never fire for it",
        "normalized_wasserstein_distance",
    )
    assert found.message.count("customer_id") == 1


def test_a_categorical_test_on_a_double_is_refused(validate: Validate) -> None:
    validate(_alert("[monthly_charges]", "pearsons_chi_squared_test", "<")).only(
        "MLS322",
        "computed only for categorical features, and it watches monthly_charges (double)",
        "pearsons",
    )


@pytest.mark.parametrize(
    ("metric", "operator"),
    [("normalized_wasserstein_distance", ">"), ("two_sample_kolmogorov_smirnov_test", "<")],
)
def test_prediction_drift_of_a_classifier_is_categorical(
    validate: Validate, metric: str, operator: str
) -> None:
    text = contract_with(
        (
            ALERT,
            ALERT
            + f"""\n    - {{name: score-drift, signal: prediction_drift, metric: {metric}, operator: "{operator}",
       threshold: 0.2, window: 1d}}""",
        )
    )
    validate(text).only(
        "MLS322", "the predictions of a classification model are categorical: it would never fire", metric
    )
