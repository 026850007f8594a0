"""The example projects under projects/: clean in every environment, covering the whole contract, runnable.

The coverage test derives what must be covered from the schema itself (top-level fields,
source formats, rollout strategies, signals, ...): when the contract grows, an example
has to show the new thing, and when an example stops using something, the test fails.
"""

from __future__ import annotations

import csv
import importlib.util
import inspect
import json
import re
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mlspec import api
from mlspec.spec_schema import models
from mlspec.spec_schema.models import MLProject

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = ROOT / "projects"
SPECS = sorted(PROJECTS.glob("*/mlproject.yaml"))
SCHEMA_LINE = "# yaml-language-server: $schema=../../mlspec/spec_schema/mlproject.v1.schema.json"
ABFSS = re.compile(r"abfss://(?P<container>[^@]+)@(?P<account>[^.]+)\.dfs\.core\.windows\.net/(?P<path>.*)")
GATE = re.compile(r"^\s*(>=|>|<=|<)\s*(-?\d+(?:\.\d+)?)\s*$")


def _id(spec: Path) -> str:
    return spec.parent.name


def _model(spec: Path, environment: str | None = None) -> MLProject:
    resolved = api.resolve(api.load(spec), environment)
    assert resolved.model is not None, resolved.diagnostics
    return resolved.model


def _literals(annotation: Any) -> set[str]:
    return {str(a) for a in typing.get_args(annotation)}


def _shown(diagnostics: list[Any]) -> str:
    return "\n".join(f"{d.location} {d.severity.value} {d.code} {d.message} | {d.hint}" for d in diagnostics)


def test_there_are_three_examples() -> None:
    assert [s.parent.name for s in SPECS] == ["churn", "diabetes", "digits"]


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_example_has_no_diagnostics_in_any_environment(spec: Path) -> None:
    result = api.validate_file(spec, all_environments=True)
    assert {"dev", "prod", "local"} <= set(result.environments)
    assert result.diagnostics == [], _shown(result.diagnostics)


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_example_follows_the_house_conventions(spec: Path) -> None:
    assert spec.read_text().splitlines()[0] == SCHEMA_LINE
    document = api.load(spec)
    environments = document.data["environments"]
    assert environments["dev"]["default"] is True
    assert environments["prod"]["protect"] is True
    dev, prod = _model(spec, "dev"), _model(spec, "prod")
    assert dev.workspace.storage_account != prod.workspace.storage_account
    assert dev.deployment is not None and prod.deployment is not None
    assert prod.deployment.replicas.min > dev.deployment.replicas.min
    assert prod.deployment.replicas.max > dev.deployment.replicas.max
    assert dev.project.owner and dev.project.description and dev.project.tags
    assert prod.deployment.network.internal_load_balancer and prod.deployment.network.subnet
    assert prod.deployment.network.allow_from


def _examples() -> list[tuple[dict[str, Any], MLProject]]:
    return [(api.load(spec).data, _model(spec)) for spec in SPECS]


def test_examples_cover_the_whole_contract() -> None:
    examples = _examples()
    raw = [data for data, _ in examples]
    specs = [model for _, model in examples]

    def used(values: Iterator[str]) -> set[str]:
        return set(values)

    sections = {field.alias or name for name, field in MLProject.model_fields.items()}
    assert sections - used(key for data in raw for key in data) == set()
    assert all(m.access.grants and m.access.secrets for m in specs)

    formats = _literals(models.SourceFormat)
    assert formats - used(s.format for m in specs for s in m.sources.values()) == set()
    strategies = _literals(models.Rollout.model_fields["strategy"].annotation)
    assert strategies - used(m.deployment.rollout.strategy for m in specs if m.deployment) == set()

    transforms = [t for m in specs for t in m.transforms.values()]
    assert {"sql", "python"} == used(("sql" if t.sql else "python") for t in transforms)
    expectation_kinds = set(models.Expectation.model_fields)
    assert expectation_kinds - used(e.kind for t in transforms for e in t.expectations) == set()
    assert {"delta", "parquet"} <= used(t.output.format for t in transforms)
    assert any(t.output.mode == "merge" and t.output.merge_keys for t in transforms)
    assert any(t.output.partition_by for t in transforms)
    assert any(t.output.schema_ for t in transforms if t.python)

    trained = [m.model for m in specs if m.model]
    assert {"estimator", "script"} == used(
        ("estimator" if t.training.estimator else "script") for t in trained
    )
    assert _literals(models.ModelSpec.model_fields["task"].annotation) == used(t.task for t in trained)

    monitors = [m.monitoring for m in specs if m.monitoring]
    signals = _literals(models.Signal)
    assert signals - used(a.signal for mon in monitors for a in mon.alerts) == set()
    assert any(a.action == "retrain" for mon in monitors for a in mon.alerts)
    assert any(mon.retrain and mon.retrain.schedule and mon.retrain.on_alerts for mon in monitors)

    reports = [r for m in specs for r in m.reports]
    assert any(r.measures and r.pages for r in reports)
    assert "predictions" in used(t for r in reports for t in r.tables)
    visual_types = _literals(models.Visual.model_fields["type"].annotation)
    assert visual_types - used(v.type for r in reports for p in r.pages for v in p.visuals) == set()

    principals = {"user", "group", "service_principal"}
    assert principals == used(g.principal.kind for m in specs for g in m.access.grants)


# --- the code the specs point at -------------------------------------------------------------


def _code_files() -> list[Path]:
    files: list[Path] = []
    for spec in SPECS:
        model = _model(spec)
        files += [spec.parent / t.python for t in model.transforms.values() if t.python]
        if model.model and model.model.training.script:
            files.append(spec.parent / model.model.training.script)
    return files


def _import(path: Path) -> ModuleType:
    module_spec = importlib.util.spec_from_file_location(
        f"example_{path.parent.parent.name}_{path.stem}", path
    )
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "path", _code_files(), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}"
)
def test_code_imports_without_pyspark(path: Path) -> None:
    # ``sys.modules[name] = None`` makes importing it fail: PySpark must only be imported when called.
    probe = (
        "import sys, importlib.util\n"
        "sys.modules['pyspark'] = None\n"
        f"s = importlib.util.spec_from_file_location('probe', {str(path)!r})\n"
        "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)\n"
        "print(','.join(n for n in ('transform', 'main') if callable(getattr(m, n, None))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    entry_points = done.stdout.strip().split(",")
    if path.parent.name == "transforms":
        assert "transform" in entry_points
        parameters = list(inspect.signature(_import(path).transform).parameters.values())
        assert parameters[0].name == "spark" and parameters[1].kind is inspect.Parameter.VAR_KEYWORD
    else:
        assert "main" in entry_points


def test_lab_panel_converts_mmol_to_mg_dl() -> None:
    lab_panel = _import(PROJECTS / "diabetes" / "transforms" / "lab_panel.py")
    assert lab_panel.to_mg_dl("GLU", 5.0, "mmol/L") == 90.1
    assert lab_panel.to_mg_dl("TC", 4.06, "mmol/L") == 157.0
    assert lab_panel.to_mg_dl("TCH", 4.0, "ratio") == 4.0


# --- data generators ---------------------------------------------------------------------------

# What each generator imports beyond numpy (all in mlspec's `local` extra).
_GENERATOR_NEEDS = {
    "churn": ("pandas", "pyarrow", "deltalake"),
    "diabetes": ("pandas", "sklearn"),
    "digits": ("PIL", "sklearn"),
}


def _require_generator_dependencies(project: str) -> None:
    for module in ("numpy", *_GENERATOR_NEEDS.get(project, ())):
        if importlib.util.find_spec(module) is None:
            pytest.skip(
                f"{module} is not installed (the {project} generator uses it): pip install 'mlspec-azure[local]'"
            )


def _generate(project: str, lake: Path, *extra: str) -> None:
    script = PROJECTS / project / "data" / "generate.py"
    done = subprocess.run(
        [sys.executable, str(script), "--lake", str(lake), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _local(lake: Path, url: str) -> Path:
    match = ABFSS.fullmatch(url)
    assert match is not None, url
    return lake / match["account"] / match["container"] / match["path"]


def _files(folder: Path, glob: str | None) -> list[Path]:
    return sorted(p for p in folder.rglob(glob or "*") if p.is_file() and "_delta_log" not in p.parts)


def _tree(folder: Path) -> dict[str, Any]:
    """Every file's bytes; a Delta table by its history and rows (delta-rs names files by UUID and
    stamps commits with the time, so its bytes differ from run to run while the data does not)."""
    tables = {p.parent for p in folder.rglob("_delta_log")}
    tree: dict[str, Any] = {}
    for table in sorted(tables):
        import deltalake

        delta = deltalake.DeltaTable(str(table))
        tree[str(table.relative_to(folder))] = (delta.version(), delta.to_pyarrow_table().to_pylist())
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(t in path.parents for t in tables):
            tree[str(path.relative_to(folder))] = path.read_bytes()
    return tree


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``generated(project, environment)``: a lake the project's generator wrote for that
    environment's storage account (dev: the default account, prod: ``--account``), made once."""
    made: dict[tuple[str, str], Path] = {}

    def lake(project: str, environment: str = "dev") -> Path:
        _require_generator_dependencies(project)
        if (project, environment) not in made:
            folder = tmp_path_factory.mktemp(f"lake-{project}-{environment}")
            if environment == "dev":
                _generate(project, folder)  # the default --account is the dev environment's
            else:
                account = _model(PROJECTS / project / "mlproject.yaml", environment).workspace.storage_account
                _generate(project, folder, "--account", str(account))
            made[project, environment] = folder
        return made[project, environment]

    yield lake


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_generator_writes_every_source_deterministically(spec: Path, generated: Any) -> None:
    project = spec.parent.name
    models_by_env = {env: _model(spec, env) for env in ("dev", "prod")}
    for environment, model in models_by_env.items():
        lake = generated(project, environment)
        for name, source in model.sources.items():
            folder = _local(lake, source.path)
            files = _files(folder, source.glob)
            assert files, f"{project}: no files for source {name!r} in {folder}"
            if source.format == "delta":
                assert sorted((folder / "_delta_log").glob("*.json")), f"{name}: no Delta log"
            if source.format == "csv" and source.schema_:
                with files[0].open() as handle:
                    assert next(csv.reader(handle)) == list(source.schema_), f"{name}: header != schema"
            if source.format == "json":
                first = json.loads(files[0].read_text().splitlines()[0])
                assert isinstance(first, dict)
    # Fixed seeds: the same bytes under either account.
    dev_account, prod_account = (str(models_by_env[e].workspace.storage_account) for e in ("dev", "prod"))
    assert dev_account != prod_account
    dev_tree = _tree(generated(project, "dev") / dev_account)
    assert dev_tree == _tree(generated(project, "prod") / prod_account)


def test_churn_parquet_and_delta_read_back_with_their_declared_schema(generated: Any) -> None:
    parquet = pytest.importorskip(
        "pyarrow.parquet", reason="pyarrow is optional: it cross-checks the Parquet writer"
    )
    model = _model(PROJECTS / "churn" / "mlproject.yaml", "dev")
    lake = generated("churn")
    subscriptions = parquet.read_table(
        _files(_local(lake, model.sources["subscriptions"].path), "*.parquet")[0]
    )
    assert subscriptions.column_names == list(model.sources["subscriptions"].schema_ or {})
    assert subscriptions.num_rows == 2000
    deltalake = pytest.importorskip(
        "deltalake", reason="deltalake is optional: it cross-checks the Delta log"
    )
    invoices = deltalake.DeltaTable(str(_local(lake, model.sources["invoices"].path)))
    assert invoices.version() == 1
    assert [f.name for f in invoices.schema().fields][:2] == ["invoice_id", "customer_id"]


def test_digits_decoder_recovers_the_bundled_digits(generated: Any) -> None:
    lake = generated("digits")
    from sklearn.datasets import load_digits

    decode_scans = _import(PROJECTS / "digits" / "transforms" / "decode_scans.py")
    model = _model(PROJECTS / "digits" / "mlproject.yaml", "dev")
    pngs = _files(_local(lake, model.sources["digit_scans"].path), "*.png")
    assert len(pngs) == 1797
    digits = load_digits()
    for index in (0, 1, 500, 1796):
        cells = decode_scans.pixel_features(pngs[index].read_bytes())
        assert cells is not None and len(cells) == 64
        assert max(abs(a - b) for a, b in zip(cells, digits.data[index], strict=True)) < 0.5
    assert decode_scans.pixel_features(b"not a png") is None


def _diabetes_split(test_size: float, seed: int) -> tuple[Any, Any, Any, Any, list[str]]:
    """patient_features as the pipeline's prepare step would split it (no Spark needed)."""
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    data = load_diabetes(scaled=False)
    features = data.data.copy()
    features[:, 1] = features[:, 1] == 2  # sex 1/2 -> sex_male, as patient_features has it
    names = ["age", "sex_male", "bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"]
    x_train, x_test, y_train, y_test = train_test_split(
        features, data.target, test_size=test_size, random_state=seed
    )
    return x_train, x_test, y_train, y_test, names


def _gate_failures(gate: dict[str, str], scores: dict[str, float]) -> list[str]:
    failures = []
    for metric, condition in gate.items():
        match = GATE.match(condition)
        assert match is not None, condition
        value, threshold = scores[metric], float(match[2])
        passed = {
            ">=": value >= threshold,
            ">": value > threshold,
            "<=": value <= threshold,
            "<": value < threshold,
        }
        if not passed[match[1]]:
            failures.append(f"{metric} = {value:.3f} fails {condition!r}")
    return failures


def test_diabetes_training_script_model_passes_the_gate_on_held_out_patients() -> None:
    _require_generator_dependencies("diabetes")
    from sklearn import metrics

    model = _model(PROJECTS / "diabetes" / "mlproject.yaml", "dev")
    assert model.model is not None and model.model.training.script
    training, evaluation = model.model.training, model.model.evaluation
    train = _import(PROJECTS / "diabetes" / training.script)
    x_train, x_test, y_train, y_test, _ = _diabetes_split(training.split.test_size, training.split.seed)
    predicted = train.fit(x_train, y_train, training.params).predict(x_test)
    scores = {
        "rmse": metrics.root_mean_squared_error(y_test, predicted),
        "mae": metrics.mean_absolute_error(y_test, predicted),
        "r2": metrics.r2_score(y_test, predicted),
        "mape": metrics.mean_absolute_percentage_error(y_test, predicted),
    }
    assert set(evaluation.metrics) <= set(scores)
    assert _gate_failures(evaluation.gate, scores) == []


def test_diabetes_training_script_follows_the_script_contract(tmp_path: Path) -> None:
    """--train-data/--target/--features/--model-output/--params in, an MLflow model out."""
    _require_generator_dependencies("diabetes")
    pytest.importorskip("mlflow", reason="the script saves an MLflow model: pip install mlflow")
    model = _model(PROJECTS / "diabetes" / "mlproject.yaml", "dev")
    assert model.model is not None and model.model.training.script
    training = model.model.training
    x_train, _, y_train, _, names = _diabetes_split(training.split.test_size, training.split.seed)
    table = tmp_path / "train.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, training.target])
        writer.writerows([*row, target] for row, target in zip(x_train, y_train, strict=True))
    command = [
        sys.executable, str(PROJECTS / "diabetes" / training.script),
        "--train-data", str(table),
        "--target", training.target,
        "--features", ",".join(training.features),
        "--model-output", str(tmp_path / "model"),
        "--params", json.dumps(training.params),
        "--metrics-output", str(tmp_path / "cv.json"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "model" / "MLmodel").is_file()
    assert set(json.loads((tmp_path / "cv.json").read_text())) == {"cv_rmse", "cv_mae", "cv_r2"}
    assert not (tmp_path / "mlruns").exists(), "no MLflow run is active: nothing may be tracked"
