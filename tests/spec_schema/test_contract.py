"""The contract example (mlproject-v1.md, copied into data/contract.yaml) and the validate API.

The copy declares the measure its visuals name (``churn_rate``): the card leaves it undeclared, which
gives a BLANK() placeholder and a warning (MLS663), and the example is to validate without one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec import api
from mlspec.diagnostics import MlspecError
from mlspec.spec_schema.models import MLProject

from .spec_text import CONTRACT, CONTRACT_PATH, contract_with


def test_contract_example_validates_in_every_environment() -> None:
    result = api.validate_file(CONTRACT_PATH, all_environments=True, environ={})
    assert result.environments == ["dev", "prod", "local"]
    assert result.diagnostics == []
    assert result.ok


def test_contract_example_validates_strictly() -> None:
    assert api.validate_file(CONTRACT_PATH, all_environments=True, environ={}, strict=True).diagnostics == []


def test_contract_example_resolves_to_a_model_per_environment() -> None:
    document = api.load(CONTRACT_PATH)
    for env in ("dev", "prod", "local"):
        resolved = api.resolve(document, env, environ={})
        assert resolved.ok
        assert isinstance(resolved.model, MLProject)
        assert resolved.model.deployment is not None
    prod = api.resolve(document, "prod", environ={}).model
    assert prod is not None and prod.deployment is not None
    assert (prod.deployment.replicas.min, prod.deployment.replicas.max) == (3, 20)


def test_invalid_spec_resolves_without_a_model() -> None:
    document = api.load(CONTRACT_PATH)
    document.data["project"]["name"] = 3  # an in-memory edit; the file is untouched
    resolved = api.resolve(document, environ={})
    assert resolved.model is None
    assert not resolved.ok
    assert [d.code for d in resolved.diagnostics] == ["MLS102"]


def test_validate_file_checks_every_environment_by_default(tmp_path: Path) -> None:
    path = tmp_path / "mlproject.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    assert api.validate_file(path, environ={}).environments == ["dev", "prod", "local"]
    assert api.validate_file(path, ["prod", "local"], environ={}).environments == ["prod", "local"]


def test_diagnostics_are_sorted_by_location(tmp_path: Path) -> None:
    path = tmp_path / "mlproject.yaml"
    path.write_text(
        contract_with(
            ("  endpoint: churn-scoring", "  endpoint: Churn"),
            ("{default: 00000000-0000-0000-0000-000000000000,", "{default: my-sub,"),
        ),
        encoding="utf-8",
    )
    found = api.validate_file(path, environ={}).diagnostics
    # naming (endpoint, line 96) runs before formats (subscription id, line 13); the report is by line
    assert [(d.code, d.location.line if d.location else 0) for d in found] == [("MLS411", 13), ("MLS401", 96)]


def test_validate_finds_specs_in_folders_and_skips_build_output(tmp_path: Path) -> None:
    for folder in ("a", "b/c", "build/dev", ".git"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "mlproject.yaml").write_text(CONTRACT, encoding="utf-8")
    (tmp_path / "b/c/mlproject.yaml").write_text(
        contract_with(("apiVersion: mlspec/v1", "apiVersion: v9")), encoding="utf-8"
    )
    report = api.validate([tmp_path], environ={})
    assert sorted(Path(f.file).parent.name for f in report.files) == ["a", "c"]
    assert not report.ok
    assert report.error_count == 1 and report.warning_count == 0


def test_validate_reports_a_path_matching_nothing(tmp_path: Path) -> None:
    report = api.validate([tmp_path / "missing"], environ={})
    assert [d.code for d in report.diagnostics] == ["MLS000"]
    assert report.usage_error and not report.ok
    with pytest.raises(MlspecError) as info:
        api.discover([tmp_path / "missing"])
    assert [d.code for d in info.value.diagnostics] == ["MLS000"]
