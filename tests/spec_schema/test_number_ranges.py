"""Numbers are range-checked to what Azure, Kubernetes and the libraries accept (MLS102, at the number).

A number nothing downstream can take (a seed past 32 bits, a node count past 64 bits, NaN) used to
pass validate and crash build with a TypeError; now it is a located error that names the range.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec import api
from mlspec.diagnostics import MlspecError

from .spec_text import Validate, contract_with

HUGE = "123456789012345678901234567890"  # past 64 bits


@pytest.mark.parametrize(
    ("field", "old", "written", "accepted"),
    [
        ("seed", "42", HUGE, "between 0 and 4294967295"),
        ("seed", "42", "-1", "between 0 and 4294967295"),
        ("seed", "42", "4294967296", "between 0 and 4294967295"),
        ("max_nodes", "4", HUGE, "between 1 and 65000"),
        ("min_nodes", "0", "-3", "between 0 and 65000"),
        ("target_cpu_percent", "70", "700", "between 1 and 100"),
        ("canary_percent", "10", "100", "between 1 and 99"),
        ("test_size", "0.2", "1.5", "greater than 0 and less than 1"),
        ("sample_rate", "1.0", "1.5", "between 0 and 1"),
    ],
)
def test_a_number_out_of_range_is_located_and_names_the_accepted_range(
    validate: Validate, field: str, old: str, written: str, accepted: str
) -> None:
    text = contract_with((f"{field}: {old}", f"{field}: {written}"))
    found = validate(text).only("MLS102", f"'{field}' must be {accepted}", written, after=f"{field}:")
    assert f"got {written[:20]}" in found.message


def test_an_alert_severity_out_of_range_names_azure_monitors_range(validate: Validate) -> None:
    text = contract_with(("window: 5m, severity: 2}", "window: 5m, severity: 9}"))
    validate(text).only("MLS102", "'severity' must be between 0 and 4, got 9", "9}", after="high-latency")


def test_the_largest_accepted_seed_is_valid(validate: Validate) -> None:
    validate(contract_with(("seed: 42}", "seed: 4294967295}"))).assert_clean()


@pytest.mark.parametrize("written", [".nan", ".inf", "-.inf"])
def test_a_threshold_must_be_a_finite_number(validate: Validate, written: str) -> None:
    text = contract_with(("threshold: 250,", f"threshold: {written},"))
    validate(text).only("MLS102", "'threshold' must be a finite number", written, after="high-latency")


@pytest.mark.parametrize(
    ("old", "new", "written"),
    [
        ("params: {n_estimators: 200,", f"params: {{n_estimators: {HUGE},", HUGE),
        ("params: {n_estimators: 200,", "params: {n_estimators: .nan,", ".nan"),
        ("options: {header: true}", f"options: {{header: true, maxColumns: {HUGE}}}", HUGE),
        (
            "lake_account: {default: contosolakedev,",
            f"lake_account: {{default: contosolakedev}}\n  big: {{default: {HUGE},",
            HUGE,
        ),
    ],
)
def test_free_form_numbers_must_fit_64_bits_and_be_finite(
    validate: Validate, old: str, new: str, written: str
) -> None:
    text = contract_with((old, new))
    found = validate(text).errors
    located = [d for d in found if d.code == "MLS102" and d.location is not None]
    assert located, found
    assert any(
        "-9223372036854775808 and 9223372036854775807" in d.message or "finite" in d.message for d in located
    ), [d.message for d in located]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("max_nodes: 4}", f"max_nodes: {HUGE}}}"),
        ("seed: 42}", f"seed: {HUGE}}}"),
        ("params: {n_estimators: 200,", f"params: {{n_estimators: {HUGE},"),
    ],
)
def test_build_refuses_a_huge_number_with_a_diagnostic_not_a_type_error(
    tmp_path: Path, old: str, new: str
) -> None:
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(contract_with((old, new)), encoding="utf-8")
    with pytest.raises(MlspecError) as raised:
        api.build(spec, "dev", environ={})
    assert all(d.code.startswith("MLS") and d.location is not None for d in raised.value.diagnostics)
    assert any(d.code == "MLS102" for d in raised.value.diagnostics)


@pytest.mark.parametrize(
    "project", sorted(p.name for p in (Path(__file__).parents[2] / "projects").iterdir())
)
def test_the_example_projects_stay_valid_in_every_environment(project: str) -> None:
    spec = Path(__file__).parents[2] / "projects" / project / "mlproject.yaml"
    result = api.validate_file(spec, all_environments=True, environ={})
    assert [d for d in result.diagnostics if d.is_error] == []
