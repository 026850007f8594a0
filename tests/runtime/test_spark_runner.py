"""``run_transforms`` runs a build's compiled notebooks on real PySpark against a seeded lake.

Each example project is built for ``local``, its seed program fills a tmp lake through
``MLSPEC_SOURCES`` (the contract ``mlspec run`` uses), and every transform runs in pipeline
order. A small spec written here (names and data the examples do not have) pins failures:
a broken expectation stops with its rule, count and sample rows before anything is written,
and any other error names the transform, the cell and the line. One test runs the same
notebooks on a Spark standalone cluster on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlspec import api
from mlspec.runtime.lake import local_path
from mlspec.runtime.notebooks import BuildUnreadable, read_pipeline

PROJECTS = Path(__file__).resolve().parents[2] / "projects"


def _missing() -> str | None:
    for module in ("pyspark", "deltalake", "pyarrow", "pandas", "PIL", "sklearn"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'mlspec-azure[local]')"
    if shutil.which("java") is None:
        return "no Java runtime for local Spark"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local session for the module; run_transforms(master=None) reuses the active one."""
    from mlspec.runtime.spark import spark_session

    session = spark_session("local[2]")
    yield session
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    (active or session).stop()


def build(spec: Path, out: Path, environment: str = "local") -> Path:
    api.build(spec, environment, out_dir=out, environ={})
    return out


def sources_variable(spec: Path, lake: Path, environment: str = "local") -> dict[str, dict[str, str]]:
    """What ``mlspec run`` puts in MLSPEC_SOURCES for ``environment``."""
    model = api.resolve(api.load(spec), environment, environ={}).model
    assert model is not None
    return {
        name: {"url": source.path, "path": local_path(source.path, str(lake)), "format": source.format}
        for name, source in model.sources.items()
    }


def seed(spec: Path, lake: Path, seed_program: str = "data/generate.py") -> None:
    """Run the seed program as the contract says, with ``--lake`` aimed elsewhere: the sources must
    land where MLSPEC_SOURCES says, not below ``--lake``."""
    decoy = lake.parent / f"{lake.name}-unused"
    environ = {**os.environ, "MLSPEC_SOURCES": json.dumps(sources_variable(spec, lake))}
    done = subprocess.run(
        [sys.executable, seed_program, "--lake", str(decoy)],
        cwd=spec.parent,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not decoy.exists(), "the seed program ignored MLSPEC_SOURCES"


def delta_rows(path: Path) -> list[dict[str, Any]]:
    from deltalake import DeltaTable

    rows: list[dict[str, Any]] = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return rows


# --- the example projects ------------------------------------------------------------------------


def test_churn_runs_end_to_end_and_its_merge_upserts_on_a_rerun(spark: Any, tmp_path: Path) -> None:
    from deltalake import DeltaTable

    spec = PROJECTS / "churn" / "mlproject.yaml"
    out, lake = build(spec, tmp_path / "build"), tmp_path / "lake"
    seed(spec, lake)
    started: list[str] = []
    reported: list[Any] = []
    results = {
        r.name: r
        for r in _run(out, lake, on_start=started.append, on_done=reported.append)  # progress as it runs
    }
    assert started == ["web_engagement", "billing_history", "customer_features"]
    assert [r.name for r in reported] == started
    assert {name: (r.format, r.rows) for name, r in results.items() if name != "web_engagement"} == {
        "billing_history": ("parquet", 2000),  # every customer has invoices
        "customer_features": ("delta", 2000),  # one row per customer
    }
    engagement = results["web_engagement"]
    assert 1000 <= engagement.rows < 2000  # known visitors only: anonymous ones are dropped
    assert engagement.url == "abfss://curated@contosolakedev.dfs.core.windows.net/churn/web_engagement/"
    assert engagement.path == lake / "contosolakedev" / "curated" / "churn" / "web_engagement"
    assert len(delta_rows(engagement.path)) == engagement.rows
    assert all(r.seconds > 0 for r in results.values())

    features = results["customer_features"].path
    table = DeltaTable(str(features))
    assert table.metadata().partition_columns == ["region"]
    assert sorted(p.name for p in features.glob("region=*")) == [
        "region=east",
        "region=north",
        "region=south",
        "region=west",
    ]
    rows = delta_rows(features)
    assert len({r["customer_id"] for r in rows}) == 2000
    assert 0.1 < sum(r["churned"] for r in rows) / len(rows) < 0.6
    assert table.version() == 0

    # Rerun on the same lake: the merge output is upserted (a new version, the same customers).
    rerun = {r.name: r.rows for r in _run(out, lake, only=["customer_features"])}
    assert rerun == {"customer_features": 2000}
    assert DeltaTable(str(features)).version() == 1
    assert DeltaTable(str(features)).history(1)[0]["operation"] == "MERGE"


def test_diabetes_runs_end_to_end(spark: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    spec = PROJECTS / "diabetes" / "mlproject.yaml"
    out, lake = build(spec, tmp_path / "build"), tmp_path / "lake"
    seed(spec, lake)
    results = {r.name: r for r in _run(out, lake)}
    assert list(results) == ["lab_panel", "patient_features"]
    # lab_panel undoes units, re-runs and cancellations: every patient keeps a complete panel.
    assert (results["lab_panel"].format, results["lab_panel"].rows) == ("delta", 442)
    assert (results["patient_features"].format, results["patient_features"].rows) == ("parquet", 442)
    panel = delta_rows(results["lab_panel"].path)
    assert all(40 <= r["glu"] <= 400 for r in panel)  # mg/dL everywhere, no mmol/L left
    features = results["patient_features"].path
    assert sorted(p.name for p in features.glob("clinic=*")) == [
        "clinic=clinic-central",
        "clinic=clinic-north",
        "clinic=clinic-south",
    ]
    assert pq.read_table(features).num_rows == 442


def test_digits_runs_end_to_end(spark: Any, tmp_path: Path) -> None:
    spec = PROJECTS / "digits" / "mlproject.yaml"
    out, lake = build(spec, tmp_path / "build"), tmp_path / "lake"
    seed(spec, lake)
    results = {r.name: r for r in _run(out, lake)}
    assert list(results) == ["digit_pixels", "station_quality"]
    pixels = results["digit_pixels"]
    assert pixels.format == "delta" and 1500 <= pixels.rows < 1797  # labelled, agreeing images only
    rows = delta_rows(pixels.path)
    assert len(rows) == pixels.rows and len(rows[0]) == 67  # image_id, label, ink, 64 pixels
    assert {r["label"] for r in rows} == set(range(10))
    stations = delta_rows(results["station_quality"].path)
    assert len(stations) == results["station_quality"].rows > 0
    assert all(0 <= r["retry_rate"] <= 1 for r in stations)


@pytest.mark.parametrize("template", ["tabular", "images"])
def test_a_scaffolded_project_seeds_and_runs(spark: Any, tmp_path: Path, template: str) -> None:
    """What ``mlspec init`` writes: its spec names its seed, and the seed feeds every transform."""
    from mlspec.scaffold import init_project

    project = tmp_path / "project"
    init_project("newproj", project, template)  # type: ignore[arg-type]
    spec = project / "mlproject.yaml"
    model = api.resolve(api.load(spec), "local", environ={}).model
    assert model is not None and model.run.seed == "data/generate.py"
    out, lake = build(spec, tmp_path / "build"), tmp_path / "lake"
    seed(spec, lake, model.run.seed)
    results = _run(out, lake)
    assert [r.name for r in results] == list(model.transforms)
    assert all(r.rows >= 100 for r in results), [(r.name, r.rows) for r in results]


# --- a spec none of the examples looks like ------------------------------------------------------

SMALL_SPEC = """\
apiVersion: mlspec/v1
project: {name: parcels}
workspace:
  subscription_id: 00000000-0000-0000-0000-000000000000
  resource_group: rg-parcels
  location: northeurope
  synapse: syn-parcels
  spark_pool: pool1
  storage_account: parcelslake
environments:
  dev: {default: true}
  broken:
    overrides:
      transforms: {hub_load: {python: transforms/broken.py}}
  slow:
    overrides:
      transforms: {hub_load: {python: transforms/slow.py}}
sources:
  scans:
    path: abfss://landing@parcelslake.dfs.core.windows.net/hubs/scans/
    format: csv
    options: {header: true, mode: FAILFAST}
    schema: {parcel: string, hub: string, grams: int}
transforms:
  parcel_weights:
    inputs: [scans]
    sql: SELECT parcel, hub, grams FROM scans
    output:
      path: abfss://refined@parcelslake.dfs.core.windows.net/parcels/weights/
      format: delta
      partition_by: [hub]
    expectations:
      - unique: parcel
      - range: {column: grams, min: 1, max: 30000}
  hub_load:
    inputs: [parcel_weights]
    python: transforms/hub_load.py
    output:
      path: abfss://refined@parcelslake.dfs.core.windows.net/parcels/hub_load/
      format: csv
      schema: {hub: string, parcels: long, size: string}
"""
HUB_LOAD = """\
def size_class(grams):
    return "heavy" if grams >= 1000 else "light"


def transform(spark, **inputs):
    from pyspark.sql import functions as F

    classify = F.udf(size_class, "string")  # Python on the executors
    weights = inputs["parcel_weights"].withColumn("size", classify("grams"))
    return weights.groupBy("hub", "size").agg(F.count("*").alias("parcels")).select("hub", "parcels", "size")
"""
BROKEN = """\
def transform(spark, **inputs):
    hubs = inputs["parcel_weights"]
    raise ValueError(f"no hub table for {hubs.count()} parcels")
"""
SLOW = """\
def transform(spark, **inputs):
    print("hub_load is busy", flush=True)
    spark.range(10**13).selectExpr("sum(id) AS total").collect()  # hours on one core
    return inputs["parcel_weights"]
"""


@pytest.fixture
def parcels(tmp_path: Path) -> Path:
    project = tmp_path / "parcels"
    (project / "transforms").mkdir(parents=True)
    (project / "mlproject.yaml").write_text(SMALL_SPEC)
    (project / "transforms" / "hub_load.py").write_text(HUB_LOAD)
    (project / "transforms" / "broken.py").write_text(BROKEN)
    (project / "transforms" / "slow.py").write_text(SLOW)
    return project / "mlproject.yaml"


def write_scans(lake: Path, rows: list[str]) -> None:
    folder = lake / "parcelslake" / "landing" / "hubs" / "scans"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scans.csv").write_text("parcel,hub,grams\n" + "".join(f"{r}\n" for r in rows))


SCANS = ["p1,ams,500", "p2,ams,1500", "p3,rtm,200", "p4,rtm,250", "p5,ams,2500"]


def test_a_spec_of_its_own_runs_in_pipeline_order(spark: Any, parcels: Path, tmp_path: Path) -> None:
    out, lake = build(parcels, tmp_path / "build", "dev"), tmp_path / "lake"
    write_scans(lake, SCANS)
    results = _run(out, lake)
    assert [(r.name, r.format, r.rows) for r in results] == [
        ("parcel_weights", "delta", 5),
        ("hub_load", "csv", 3),  # (ams, light), (ams, heavy), (rtm, light)
    ]
    assert {r["parcel"] for r in delta_rows(results[0].path)} == {"p1", "p2", "p3", "p4", "p5"}
    assert sorted(p.name for p in results[0].path.glob("hub=*")) == ["hub=ams", "hub=rtm"]
    written = spark.read.option("header", "true").csv(str(results[1].path)).collect()
    assert sorted((r["hub"], r["size"], int(r["parcels"])) for r in written) == [
        ("ams", "heavy", 2),
        ("ams", "light", 1),
        ("rtm", "light", 2),
    ]
    # Temporary views do not leak from one notebook into the next run (each has a session on Synapse).
    assert [t.name for t in spark.catalog.listTables() if t.isTemporary] == []


def test_a_failed_expectation_stops_with_rule_count_and_rows_and_writes_nothing(
    spark: Any, parcels: Path, tmp_path: Path
) -> None:
    from mlspec.runtime.spark import TransformFailed

    out, lake = build(parcels, tmp_path / "build", "dev"), tmp_path / "lake"
    write_scans(lake, [*SCANS, "p2,rtm,900", "p9,rtm,0"])
    started: list[str] = []
    with pytest.raises(TransformFailed) as failure:
        _run(out, lake, on_start=started.append)
    error = failure.value
    assert (error.transform, error.rule, error.count) == ("parcel_weights", "unique(parcel)", 2)
    assert sorted(error.sample, key=lambda r: r["hub"]) == [
        {"parcel": "p2", "hub": "ams", "grams": 1500},
        {"parcel": "p2", "hub": "rtm", "grams": 900},
    ]
    message = str(error)
    assert message.startswith(
        "expectation unique(parcel) failed on parcel_weights: 2 rows share their parcel with another row"
    )
    assert "{'parcel': 'p2', 'hub': 'ams', 'grams': 1500}" in message
    assert "{'parcel': 'p2', 'hub': 'rtm', 'grams': 900}" in message
    assert error.cell is not None
    assert started == ["parcel_weights"]  # hub_load, downstream, never started
    assert not (lake / "parcelslake" / "refined").exists()  # nothing written


def test_any_other_error_names_the_transform_cell_and_line(spark: Any, parcels: Path, tmp_path: Path) -> None:
    from mlspec.runtime.spark import TransformFailed

    out, lake = build(parcels, tmp_path / "build", "broken"), tmp_path / "lake"
    write_scans(lake, SCANS)
    with pytest.raises(TransformFailed) as failure:
        _run(out, lake)
    error = failure.value
    notebook = json.loads((out / "synapse" / "notebooks" / "hub_load.ipynb").read_text())
    code_cell = next(i for i, c in enumerate(notebook["cells"]) if "def transform" in "".join(c["source"]))
    call_cell = next(
        i for i, c in enumerate(notebook["cells"]) if "transform(spark, **inputs)" in "".join(c["source"])
    )
    assert (error.transform, error.rule, error.count) == ("hub_load", None, None)
    # the project's code cell, where the error was raised (not the cell that called transform())
    assert error.cell == code_cell != call_cell
    assert str(error).startswith(
        f"transform hub_load failed in cell {code_cell}, line 3: "
        'raise ValueError(f"no hub table for {hubs.count()} parcels")\n'
    )
    assert str(error).endswith("ValueError: no hub table for 5 parcels")
    assert isinstance(error.__cause__, ValueError)
    # parcel_weights ran and wrote before hub_load failed
    assert len(delta_rows(lake / "parcelslake" / "refined" / "parcels" / "weights")) == 5


def assert_short(message: str) -> None:
    """No Java frames, no cut-off stacks: what a user reads."""
    assert "\tat " not in message and "more lines" not in message and "Caused by" not in message
    assert "Py4J" not in message and "An error occurred while calling" not in message
    assert len(message.splitlines()) <= 2, message


@pytest.mark.parametrize("lake_state", ["missing", "empty"])
def test_a_source_without_data_is_named_as_the_source(
    spark: Any, parcels: Path, tmp_path: Path, lake_state: str
) -> None:
    from mlspec.runtime.spark import TransformFailed

    out, lake = build(parcels, tmp_path / "build", "dev"), tmp_path / "lake"
    folder = lake / "parcelslake" / "landing" / "hubs" / "scans"
    if lake_state == "empty":
        folder.mkdir(parents=True)
        (folder / "_SUCCESS").write_text("")  # Spark's marker files are not data
    with pytest.raises(TransformFailed) as failure:
        _run(out, lake)
    error = failure.value
    problem = "the path does not exist" if lake_state == "missing" else "the folder holds no data file"
    assert str(error) == f"transform parcel_weights failed: source scans has no data at {folder} ({problem})"
    assert (error.transform, error.source, error.cell) == ("parcel_weights", "scans", None)
    assert type(error.__cause__).__name__ == "InputMissing"


def test_a_malformed_record_blames_the_source_it_was_read_from(
    spark: Any, parcels: Path, tmp_path: Path
) -> None:
    from py4j.protocol import Py4JJavaError

    from mlspec.runtime.spark import TransformFailed

    out, lake = build(parcels, tmp_path / "build", "dev"), tmp_path / "lake"
    write_scans(lake, [*SCANS, "p6,ams,heavy"])  # grams is an int: FAILFAST stops on the row
    with pytest.raises(TransformFailed) as failure:
        _run(out, lake)
    error = failure.value
    message = str(error)
    folder = lake / "parcelslake" / "landing" / "hubs" / "scans"
    assert message.startswith(
        f"transform parcel_weights failed: source scans: malformed record in its csv data at {folder}: "
        "[MALFORMED_RECORD_IN_PARSING"
    )
    assert message.endswith('(NumberFormatException: For input string: "heavy")')
    assert_short(message)
    assert error.source == "scans"
    # the full engine error, Java stack and all, stays available
    assert isinstance(error.__cause__, Py4JJavaError) and "\tat " in str(error.__cause__)


def test_an_engine_error_is_cut_to_its_first_meaningful_line(spark: Any) -> None:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import AnalysisException

    from mlspec.runtime.spark_errors import short_message

    with pytest.raises(Py4JJavaError) as failure:  # a task fails on the executor
        spark.sql("SELECT assert_true(id < 0, 'no negative ids here') FROM range(3)").collect()
    assert "\tat " in str(failure.value)
    assert short_message(failure.value) == "no negative ids here"
    with pytest.raises(AnalysisException) as analysis:
        spark.sql("SELECT nope FROM range(3)")
    text = short_message(analysis.value)
    assert text.startswith(
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `nope`"
    )
    assert_short(text)


INTERRUPTED_RUN = """\
import signal, sys
from pathlib import Path
from mlspec.runtime.spark import run_transforms, spark_session

if sys.argv[3] == "SIGTERM":  # what mlspec run does: SIGTERM ends the run as Ctrl-C does
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)
spark = spark_session("local[1]")
try:
    run_transforms(Path(sys.argv[1]), Path(sys.argv[2]), on_start=lambda name: print("started", name, flush=True))
except KeyboardInterrupt:
    print("interrupted", flush=True)
print("still usable:", spark.range(3).count(), flush=True)
"""


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_an_interrupt_while_spark_is_busy_is_a_quiet_keyboard_interrupt(
    parcels: Path, tmp_path: Path, signal_name: str
) -> None:
    import signal
    import time

    out, lake = build(parcels, tmp_path / "build", "slow"), tmp_path / "lake"
    write_scans(lake, SCANS)
    run = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_RUN, str(out), str(lake), signal_name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stdout is not None
        lines = iter(run.stdout.readline, "")
        assert next(line for line in lines if line.startswith("hub_load is busy"))
        time.sleep(3)  # well inside the Spark job
        signalled = time.monotonic()
        run.send_signal(getattr(signal, signal_name))
        stdout, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
    assert time.monotonic() - signalled < 30  # the job was cancelled, not run to its end
    assert run.returncode == 0, stderr
    assert stdout.splitlines() == ["interrupted", "still usable: 3"]
    assert stderr.strip() == ""  # no py4j tracebacks, no Spark ERROR lines


def test_only_runs_the_named_transforms_and_refuses_unknown_ones(
    spark: Any, parcels: Path, tmp_path: Path
) -> None:
    from mlspec.runtime.spark import TransformFailed

    out, lake = build(parcels, tmp_path / "build", "dev"), tmp_path / "lake"
    write_scans(lake, SCANS)
    assert [r.name for r in _run(out, lake, only=["parcel_weights"])] == ["parcel_weights"]
    assert not (lake / "parcelslake" / "refined" / "parcels" / "hub_load").exists()
    with pytest.raises(
        TransformFailed, match=r"no transform nope in the build \(it has: parcel_weights, hub_load\)"
    ):
        _run(out, lake, only=["nope"])


def test_the_pipeline_order_comes_from_depends_on(parcels: Path, tmp_path: Path) -> None:
    out = build(parcels, tmp_path / "build", "dev")
    pipeline_file = out / "synapse" / "pipelines" / "parcels.json"
    pipeline = json.loads(pipeline_file.read_text())
    pipeline["properties"]["activities"].reverse()  # listed downstream first: dependsOn still wins
    pipeline_file.write_text(json.dumps(pipeline))
    notebooks = read_pipeline(out)
    assert [(n.name, n.depends_on) for n in notebooks] == [
        ("parcel_weights", ()),
        ("hub_load", ("parcel_weights",)),
    ]
    assert notebooks[0].output_url == "abfss://refined@parcelslake.dfs.core.windows.net/parcels/weights/"
    assert (notebooks[0].output_format, notebooks[1].output_format) == ("delta", "csv")
    activities = pipeline["properties"]["activities"]
    activities[-1]["dependsOn"] = [{"activity": "hub_load", "dependencyConditions": ["Succeeded"]}]
    pipeline_file.write_text(json.dumps(pipeline))
    with pytest.raises(BuildUnreadable, match="form a cycle"):
        read_pipeline(out)


def test_a_run_cell_brings_in_the_cells_of_the_notebook_it_names(parcels: Path, tmp_path: Path) -> None:
    """As Synapse's %run does: the runtime notebook's code runs in the transform's context, in place."""
    out = build(parcels, tmp_path / "build", "dev")
    folder = out / "synapse" / "notebooks"
    own = json.loads((folder / "parcel_weights.ipynb").read_text())["cells"]
    run_at = next(i for i, c in enumerate(own) if "".join(c["source"]) == "%run mlspec-lake-parcels")
    [first, *_] = read_pipeline(out)
    included = [c for c in first.cells if c.notebook is not None]
    assert [(c.notebook, c.run_by, c.position) for c in included] == [("mlspec-lake-parcels", run_at, run_at)]
    assert "def write_output(" in included[0].source
    assert not any(c.source.startswith("%run") for c in first.cells)
    order = [c.position for c in first.cells]
    assert order == sorted(order), "the helper runs where the %run cell is"

    runtime = json.loads((folder / "mlspec-lake-parcels.ipynb").read_text())
    runtime["cells"].append(
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["%run parcel_weights"]}
    )
    (folder / "mlspec-lake-parcels.ipynb").write_text(json.dumps(runtime))
    with pytest.raises(BuildUnreadable, match="runs itself"):
        read_pipeline(out)
    (folder / "mlspec-lake-parcels.ipynb").unlink()
    with pytest.raises(BuildUnreadable, match=r"cannot read notebook mlspec-lake-parcels, which .* runs"):
        read_pipeline(out)


def test_a_build_without_transforms_runs_nothing(tmp_path: Path) -> None:
    from mlspec.runtime.spark import run_transforms

    assert read_pipeline(tmp_path) == []
    assert run_transforms(tmp_path, tmp_path / "lake") == []


# --- the session ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("master", "endpoints"),
    [
        ("local", ()),
        ("local[2]", ()),
        ("local[*]", ()),
        ("local[2,3]", ()),
        ("spark://h1:7077", (("h1", 7077),)),
        ("spark://h1:7077,10.0.0.2:7078", (("h1", 7077), ("10.0.0.2", 7078))),
    ],
)
def test_the_spark_master_forms_spark_knows_are_accepted(master: str, endpoints: tuple[Any, ...]) -> None:
    from mlspec.runtime.spark import check_master

    assert check_master(master) == endpoints


@pytest.mark.parametrize(
    "master",
    ["http://x", "spark://h1", "spark://h1:99999", "local[0]", "local[two]", "yarn", "spark://:7077", ""],
)
def test_another_spark_master_is_refused_before_spark_starts(master: str) -> None:
    from mlspec.runtime.spark import ACCEPTED_MASTERS, spark_session

    with pytest.raises(ValueError) as refused:
        spark_session(master)
    assert str(refused.value) == f"unsupported Spark master {master!r}: use {ACCEPTED_MASTERS}"
    assert ACCEPTED_MASTERS == "local, local[N], local[*], local[N,F] or spark://host:port[,host:port...]"


def test_a_local_master_with_absurdly_many_threads_is_refused() -> None:
    from mlspec.runtime.spark import MAX_LOCAL_THREADS, check_master

    assert check_master(f"local[{MAX_LOCAL_THREADS}]") == ()
    with pytest.raises(ValueError, match="asks for 1000000 threads: at most 256"):
        check_master("local[1000000]")


def test_the_run_checks_the_master_with_the_same_rules_before_any_step(tmp_path: Path) -> None:
    """Preflight refuses what the Spark runner would refuse, with the runner's message."""
    from mlspec.runtime.chain import Chain, RunOptions
    from mlspec.runtime.progress import PlainProgress
    from mlspec.runtime.project import RunProject
    from mlspec.runtime.records import RunLayout

    project = RunProject(
        name="p",
        environment="local",
        project_dir=tmp_path,
        spec_file=tmp_path / "mlproject.yaml",
        build_dir=tmp_path / "build",
    )
    for master in ("local[abc]", "spark://127.0.0.1:99999", "local[1000000]"):
        chain = Chain(
            project,
            RunLayout(tmp_path),
            RunOptions(only="transforms", spark_master=master),
            PlainProgress(quiet=True),
        )
        record = chain.run()
        assert record["status"] == "failed" and record["error"]["step"] == "transforms"
        assert record["error"]["message"].startswith("--spark-master: ")
        assert master in record["error"]["message"]
        assert [s["status"] for s in record["steps"] if s["name"] == "transforms"] == ["blocked"]


def test_a_spark_master_that_does_not_answer_fails_at_once(spark: Any, parcels: Path, tmp_path: Path) -> None:
    import time

    from mlspec.runtime.spark import SparkUnavailable, TransformFailed, spark_session

    started = time.monotonic()
    with pytest.raises(SparkUnavailable, match=r"^no Spark master answers at spark://127\.0\.0\.1:1 "):
        spark_session("spark://127.0.0.1:1")
    out = build(parcels, tmp_path / "build", "dev")
    with pytest.raises(
        TransformFailed, match=r"^no Spark master answers at spark://127\.0\.0\.1:1 "
    ) as failed:
        _run(out, tmp_path / "lake", master="spark://127.0.0.1:1")
    assert failed.value.transform == "(spark)"
    assert time.monotonic() - started < 10  # Spark alone waits a minute, then prints a Java stack
    from pyspark.sql import SparkSession

    assert SparkSession.getActiveSession() is spark  # the working session was left alone


def test_the_session_is_utc_small_and_without_ui(spark: Any) -> None:
    from mlspec.runtime.spark import SHUFFLE_PARTITIONS, spark_session

    assert spark_session() is spark  # the active session is reused
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.shuffle.partitions") == SHUFFLE_PARTITIONS
    assert spark.sparkContext.uiWebUrl is None


SESSION_PROBE = """\
import os, sys
from mlspec.runtime import lake
from mlspec.runtime.spark import spark_session
os.environ["MLSPEC_LAKE_ROOT"] = sys.argv[1]
spark = spark_session("local[1]")
frame = spark.sql("SELECT timestamp'2024-06-30 12:00:00' AS at, named_struct('at', timestamp'2024-06-30 12:00:00') AS n")
lake.write_output(frame, "abfss://c1@acct.dfs.core.windows.net/t", "delta")
back = lake.read_input(spark, "abfss://c1@acct.dfs.core.windows.net/t", "delta")
print(back.selectExpr("CAST(at AS STRING) AS at", "CAST(n.at AS STRING) AS nested").first())
spark.sql("CREATE TABLE kept (id INT) USING parquet")  # the catalog creates its warehouse folder
spark.catalog.listTables()
"""


def test_a_new_session_keeps_spark_quiet_and_timestamps_exact_off_utc(tmp_path: Path) -> None:
    """In a fresh process on a machine in Tokyo: Spark prints nothing (no WARN lines, no default
    log level banner), a timestamp survives a local Delta round trip unshifted, and Spark leaves
    nothing (spark-warehouse/, derby.log, metastore_db/) in the current directory."""
    from deltalake import DeltaTable

    # Run from another directory, so this tree's mlspec is put on the path explicitly.
    environ = {**os.environ, "TZ": "Asia/Tokyo", "PYTHONPATH": str(PROJECTS.parent)}
    current = tmp_path / "current"
    current.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", SESSION_PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=current,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in current.iterdir()) == []
    assert done.stderr.strip() == ""
    assert done.stdout.strip() == "Row(at='2024-06-30 12:00:00', nested='2024-06-30 12:00:00')"
    [stored] = DeltaTable(str(tmp_path / "acct" / "c1" / "t")).to_pyarrow_table().to_pylist()
    assert stored["at"].isoformat() == "2024-06-30T12:00:00+00:00"
    assert stored["n"]["at"].isoformat() == "2024-06-30T12:00:00+00:00"


# --- on a standalone cluster (last: it replaces the module's local session) ----------------------


def test_the_notebooks_run_on_a_standalone_cluster_on_loopback(
    spark: Any, parcels: Path, tmp_path: Path
) -> None:
    from mlspec.runtime.spark_cluster import StandaloneCluster

    out, lake = build(parcels, tmp_path / "build", "dev"), tmp_path / "lake"
    write_scans(lake, SCANS)
    with StandaloneCluster(cores=1, memory="1g") as cluster:
        assert cluster.url.startswith("spark://127.0.0.1:")
        state = json.loads(_get(f"{cluster.ui_url}/json/"))
        assert [w["state"] for w in state["workers"]] == ["ALIVE"]
        results = _run(out, lake, master=cluster.url)
        assert [(r.name, r.rows) for r in results] == [("parcel_weights", 5), ("hub_load", 3)]
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        assert active is not None and active.sparkContext.master == cluster.url
        # the run is an application of the cluster, with the worker's core as its executor
        apps = json.loads(_get(f"{cluster.ui_url}/json/"))["activeapps"]
        assert [(app["name"], app["cores"]) for app in apps] == [("mlspec", 1)]
        active.stop()
        pids = [process.pid for _, process, _ in cluster._processes]
    for pid in pids:  # both daemons (and their process groups) are gone
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)


def test_a_master_that_goes_away_during_the_run_stops_it_with_a_short_error(
    spark: Any, parcels: Path, tmp_path: Path
) -> None:
    import threading
    import time

    from mlspec.runtime.spark import TransformFailed
    from mlspec.runtime.spark_cluster import StandaloneCluster

    out, lake = build(parcels, tmp_path / "build", "slow"), tmp_path / "lake"
    write_scans(lake, SCANS)
    stopped: list[float] = []
    with StandaloneCluster(cores=1, memory="1g") as cluster:

        def stop_cluster_soon(name: str) -> None:
            if name == "hub_load":  # its job runs for hours: the cluster goes away under it
                threading.Timer(5, lambda: (cluster.stop(), stopped.append(time.monotonic()))).start()

        with pytest.raises(TransformFailed) as failure:
            _run(out, lake, master=cluster.url, on_start=stop_cluster_soon)
        url = cluster.url
    assert time.monotonic() - stopped[0] < 30  # Spark alone would wait for executors forever
    assert str(failure.value) == (
        f"transform hub_load failed: the Spark master {url} stopped answering; the run cannot go on"
    )
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    assert active is not None
    active.stop()


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _run(build_dir: Path, lake: Path, **options: Any) -> list[Any]:
    from mlspec.runtime.spark import run_transforms

    return run_transforms(build_dir, lake, **options)
