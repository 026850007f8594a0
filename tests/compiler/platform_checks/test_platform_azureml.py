"""check_aml_file: azure-ai-ml's loaders and validation, plus mlspec's binding and schedule rules."""

from pathlib import Path

import pytest

from mlspec.compiler.platform_checks import AmlKind, PlatformProblem, check_aml_file

AML = Path(__file__).parent / "data" / "aml"


def located(problems: list[PlatformProblem]) -> list[tuple[str, str]]:
    return [(p.where, p.checker) for p in problems]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("pipeline.yml", "job"),
        ("components/prepare.yml", "component"),
        ("components/train.yml", "component"),
        ("environment.yml", "environment"),
        ("compute.yml", "compute"),
        ("schedule.yml", "schedule"),
        ("monitor_schedule.yml", "monitor_schedule"),
    ],
)
def test_valid_files_have_no_problems(name: str, kind: AmlKind) -> None:
    assert check_aml_file(AML / name, kind) == []


def test_pipeline_loads_file_referenced_components_from_any_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # ./components/... must resolve against the YAML's folder, not the cwd
    assert check_aml_file(AML.resolve() / "pipeline.yml", "job") == []


def test_missing_component_file_is_reported_at_the_step() -> None:
    problems = check_aml_file(AML / "bad_component_path.yml", "job")
    assert located(problems) == [("/jobs/train/component", "azure-ai-ml")]
    assert problems[0].message.startswith("No such file or directory")
    assert "components/trian.yml" in problems[0].message
    assert problems[0].artifact == str(AML / "bad_component_path.yml")


def test_bindings_to_undeclared_inputs_and_outputs_are_reported() -> None:
    problems = check_aml_file(AML / "bad_bindings.yml", "job")
    assert located(problems) == [
        ("/jobs/prepare/inputs/features", "mlspec"),
        ("/jobs/train/inputs/train_data", "mlspec"),
    ]
    assert "declares no input 'feature' (did you mean 'features'?)" in problems[0].message
    assert "step 'prepare' has no output 'training_data'" in problems[1].message


def test_unknown_step_keys_and_input_names_are_reported() -> None:
    problems = check_aml_file(AML / "bad_step_keys.yml", "job")
    assert located(problems) == [
        ("/jobs/prepare/compute_target", "mlspec"),
        ("/jobs/prepare/inputs/test_fractoin", "mlspec"),
    ]
    assert "unknown field 'compute_target'" in problems[0].message
    assert "did you mean 'test_fraction'?" in problems[1].message


def test_wrong_setting_type_is_the_sdks_schema_error() -> None:
    problems = check_aml_file(AML / "bad_setting_type.yml", "job")
    assert located(problems) == [("/settings/continue_on_step_failure", "azure-ai-ml")]
    assert problems[0].message == "Not a valid boolean."


def test_environment_without_image_or_build_is_rejected() -> None:
    problems = check_aml_file(AML / "bad_environment_no_image.yml", "environment")
    assert located(problems) == [("", "azure-ai-ml")]
    assert problems[0].message == "Docker image or Dockerfile is required for environments"


def test_compute_with_wrong_type_and_inverted_bounds() -> None:
    typed = check_aml_file(AML / "bad_compute_type.yml", "compute")
    assert located(typed) == [("/max_instances", "azure-ai-ml")]
    assert typed[0].message == "Not a valid integer."
    bounds = check_aml_file(AML / "bad_compute_bounds.yml", "compute")
    assert located(bounds) == [("/min_instances", "mlspec")]
    assert "min_instances 6 is more than max_instances 4" in bounds[0].message


def test_nonsense_cron_expression_is_caught_although_the_sdk_loads_it() -> None:
    problems = check_aml_file(AML / "bad_schedule_cron.yml", "schedule")
    assert located(problems) == [("/trigger/expression", "mlspec")]
    assert "has 4 fields; a cron expression has 5" in problems[0].message


def test_schedule_create_job_path_resolves_against_the_schedule_file() -> None:
    problems = check_aml_file(AML / "bad_schedule_job_path.yml", "schedule")
    assert located(problems) == [("/create_job", "azure-ai-ml")]
    assert "No such file or directory" in problems[0].message


def test_bad_time_zone_is_reported(tmp_path: Path) -> None:
    text = (AML / "schedule.yml").read_text().replace("time_zone: UTC", "time_zone: Mars/Olympus")
    schedule = tmp_path / "schedule.yml"
    schedule.write_text(text.replace("./pipeline.yml", str(AML.resolve() / "pipeline.yml")))
    problems = check_aml_file(schedule, "schedule")
    assert located(problems) == [("/trigger/time_zone", "mlspec")]
    assert "'Mars/Olympus' is not an Azure ML time zone" in problems[0].message


def test_monitor_unknown_metric_is_unwrapped_from_the_empty_not_implemented_error() -> None:
    problems = check_aml_file(AML / "bad_monitor_metric.yml", "monitor_schedule")
    where = "/create_monitor/monitoring_signals/feature_drift/metric_thresholds/numerical/jensen_shannon"
    assert located(problems) == [(where, "azure-ai-ml")]
    assert problems[0].message == "Unknown field."


def test_monitor_signal_type_typo_names_the_allowed_types() -> None:
    problems = check_aml_file(AML / "bad_monitor_signal_type.yml", "monitor_schedule")
    assert located(problems) == [("/create_monitor/monitoring_signals/input_quality/type", "azure-ai-ml")]
    assert "type 'data_qualty' is not one of" in problems[0].message
    assert "data_quality" in problems[0].message


def test_monitor_rules_applied_when_building_the_rest_body(tmp_path: Path) -> None:
    text = (
        (AML / "monitor_schedule.yml").read_text().replace('runtime_version: "3.4"', 'runtime_version: "2.9"')
    )
    monitor = tmp_path / "monitor.yml"
    monitor.write_text(text)
    problems = check_aml_file(monitor, "monitor_schedule")
    assert located(problems) == [("", "azure-ai-ml")]
    assert problems[0].message.startswith("Compute runtime version must be one of: 3.4")


def test_component_with_undeclared_command_input(tmp_path: Path) -> None:
    text = (AML / "components" / "train.yml").read_text().replace("inputs.learning_rate}}", "inputs.lr}}")
    text = text.replace("../src", str((AML / "src").resolve())).replace(
        "../conda.yml", str((AML / "conda.yml").resolve())
    )
    component = tmp_path / "train.yml"
    component.write_text(text)
    problems = check_aml_file(component, "component")
    assert located(problems) == [("/command", "azure-ai-ml")]
    assert "inputs.lr" in problems[0].message


def test_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    problems = check_aml_file(tmp_path / "missing.yml", "job")
    assert located(problems) == [("", "mlspec")]
    assert "cannot read the file" in problems[0].message


def _registered_copy(tmp_path: Path, **replacements: str) -> Path:
    """The valid pipeline beside its components, each step naming its component as registered."""
    import shutil

    folder = tmp_path / "aml"
    shutil.copytree(AML, folder)
    text = (folder / "pipeline.yml").read_text()
    text = text.replace("./components/prepare.yml", "azureml:churn_prepare:1")
    text = text.replace("./components/train.yml", "azureml:churn_train:1")
    for old, new in replacements.items():
        text = text.replace(old, new)
    (folder / "pipeline.yml").write_text(text)
    return folder / "pipeline.yml"


def test_steps_naming_registered_components_are_checked_against_the_builds_components(tmp_path: Path) -> None:
    assert check_aml_file(_registered_copy(tmp_path), "job") == []
    misspelt = check_aml_file(_registered_copy(tmp_path / "a", test_fraction="test_fractoin"), "job")
    assert located(misspelt) == [("/jobs/prepare/inputs/test_fractoin", "mlspec")]
    assert "did you mean 'test_fraction'?" in misspelt[0].message
    unbound = check_aml_file(_registered_copy(tmp_path / "b", train_data="training_data"), "job")
    assert [p.message for p in unbound if "has no output" in p.message], unbound


def test_a_step_naming_a_component_the_build_does_not_register_is_reported(tmp_path: Path) -> None:
    problems = check_aml_file(
        _registered_copy(tmp_path, **{"azureml:churn_train:1": "azureml:churn_train:2"}), "job"
    )
    assert located(problems) == [("/jobs/train/component", "mlspec")]
    assert "runs component azureml:churn_train:2, which the build does not register" in problems[0].message
