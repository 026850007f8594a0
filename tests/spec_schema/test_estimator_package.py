"""MLS323: an estimator whose package the training environment does not install would fail on Azure ML
at its import, once the cluster has started; ``validate`` warns at the estimator."""

from __future__ import annotations

import pytest

from mlspec.diagnostics import Severity

from .spec_text import Validate, contract_with

ESTIMATOR = "    estimator: sklearn.ensemble.GradientBoostingClassifier"
ENVIRONMENT = '    environment: {python: "3.11", pip: ["scikit-learn==1.5.2", "pandas"]}'


def _spec(estimator: str, pip: str = '["scikit-learn==1.5.2", "pandas"]', conda: str = "") -> str:
    conda_part = f", conda: {conda}" if conda else ""
    return contract_with(
        (ESTIMATOR, f"    estimator: {estimator}"),
        (ENVIRONMENT, f'    environment: {{python: "3.11", pip: {pip}{conda_part}}}'),
    )


@pytest.mark.parametrize(
    ("estimator", "pip", "conda"),
    [
        ("sklearn.ensemble.RandomForestClassifier", '["pandas"]', ""),  # mlspec adds scikit-learn
        ("xgboost.XGBClassifier", '["xgboost>=2,<3"]', ""),
        ("lightgbm.LGBMClassifier", '["LightGBM==4.5.0"]', ""),  # names compare normalised
        ("xgboost.XGBClassifier", "[]", '["py-xgboost"]'),  # conda-forge's name
        ("my_models.Churn", '["my-models @ https://example.invalid/my_models.whl"]', ""),
        ("xgboost.XGBClassifier", "[]", '["conda-forge::xgboost=2.0"]'),  # a channel prefix
        ("xgboost.XGBClassifier", '["https://example.invalid/w/xgboost-2.0.3-py3-none-any.whl"]', ""),
        ("imblearn.ensemble.BalancedRandomForestClassifier", '["imbalanced-learn>=0.12"]', ""),
        ("torch_models.Net", '["torch-models"]', ""),
    ],
)
def test_an_installed_estimator_package_is_quiet(
    validate: Validate, estimator: str, pip: str, conda: str
) -> None:
    assert "MLS323" not in validate(_spec(estimator, pip, conda)).codes


def test_the_hint_names_the_package_to_install_not_the_import(validate: Validate) -> None:
    found = validate(_spec("imblearn.ensemble.BalancedRandomForestClassifier")).one(
        "MLS323", "comes from imbalanced-learn", "imblearn.ensemble", severity=Severity.WARNING
    )
    assert found.hint == "add imbalanced-learn to model.training.environment.pip (with a version range)"


def test_an_estimator_from_a_package_not_installed_is_a_warning_at_the_estimator(validate: Validate) -> None:
    found = validate(_spec("xgboost.XGBClassifier")).only(
        "MLS323",
        "estimator 'xgboost.XGBClassifier' comes from xgboost, which the training environment does not install",
        "xgboost.XGBClassifier",
        severity=Severity.WARNING,
    )
    assert found.hint == "add xgboost to model.training.environment.pip (with a version range)"


@pytest.mark.parametrize("size", ["Standard_DS3_v2", "STANDARD_NC6S_V3", "Standard_E4-2ds_v4", "Basic_A1"])
def test_vm_size_names_with_their_tier_validate(validate: Validate, size: str) -> None:
    text = contract_with(("size: Standard_DS3_v2", f"size: {size}"))
    assert "MLS403" not in validate(text).codes


@pytest.mark.parametrize("size", ["DS3_v2", "Standard DS3 v2", "Standard_", "large"])
def test_a_compute_size_that_is_no_vm_size_is_refused_at_it(validate: Validate, size: str) -> None:
    text = contract_with(("size: Standard_DS3_v2", f"size: {size}"))
    validate(text).only(
        "MLS403", f"compute size {size!r} is not an Azure VM size name", size, after="compute:"
    )
