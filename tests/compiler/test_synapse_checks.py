"""mlspec's own Synapse checks (MLS610-619): each rule fires on the broken artifact or spec it names.

What a spec alone decides (MLS610-614) is reported by the check stage as well: tests/spec_schema/test_parity_synapse.py.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mlspec import api
from mlspec.compiler import synapse
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.synapse import checks
from mlspec.diagnostics import Diagnostic

LAKE_PROJECT = Path(__file__).resolve().parent / "data" / "synapse" / "lake"
SUMMARY_CODE = (LAKE_PROJECT / "transforms" / "summary.py").read_text(encoding="utf-8")


def lake_spec() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((LAKE_PROJECT / "mlproject.yaml").read_text(encoding="utf-8"))
    return data


def render_spec(
    folder: Path, data: dict[str, Any], code: str | None = SUMMARY_CODE
) -> tuple[RenderContext, ArtifactSet]:
    """Write ``data`` (and the Python transform's code) to ``folder`` and render it, spec errors or not."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlproject.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    if code is not None:
        (folder / "transforms").mkdir(exist_ok=True)
        (folder / "transforms" / "summary.py").write_text(code, encoding="utf-8")
    resolved = api.resolve(api.load(folder / "mlproject.yaml"), "dev", environ={})
    assert resolved.model is not None
    ctx = RenderContext(resolved.model, resolved.spec)
    out = ArtifactSet()
    synapse.render(ctx, out)
    return ctx, out


def codes(found: list[Diagnostic]) -> list[tuple[str, str]]:
    return [(d.code, d.dotted_path) for d in found]


@pytest.fixture
def rendered(tmp_path: Path) -> tuple[RenderContext, ArtifactSet]:
    return render_spec(tmp_path / "lake", lake_spec())


def mutate(
    rendered: tuple[RenderContext, ArtifactSet], change: Callable[[ArtifactSet], None], *, twins: bool = True
) -> list[Diagnostic]:
    """The check's findings after ``change``; the ``.ipynb`` twins follow changed cells unless told not to."""
    ctx, out = rendered
    assert synapse.check(ctx, out) == []
    change(out)
    for path, artifact in out.artifacts.items():
        twin = out.artifacts.get(path.removesuffix(".json") + ".ipynb")
        if twins and twin is not None and path.endswith(".json"):
            twin.data["cells"] = copy.deepcopy(artifact.data["properties"]["cells"])
    return synapse.check(ctx, out)


def notebook(out: ArtifactSet, name: str) -> dict[str, Any]:
    data: dict[str, Any] = out.artifacts[f"synapse/notebooks/{name}.json"].data
    return data


def activities(out: ArtifactSet) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = out.artifacts["synapse/pipelines/lakedemo.json"].data["properties"][
        "activities"
    ]
    return data


def activity(out: ArtifactSet, name: str) -> dict[str, Any]:
    return next(a for a in activities(out) if a["name"] == name)


def test_the_lake_project_has_no_problems(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    ctx, out = rendered
    assert out.diagnostics == [] and synapse.check(ctx, out) == []


def test_missing_notebook(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    found = mutate(rendered, lambda out: out.artifacts.pop("synapse/notebooks/region_summary.json"))
    assert codes(found) == [("MLS616", "transforms.region_summary"), ("MLS616", "transforms.region_summary")]
    assert "has no Synapse notebook" in found[0].message
    assert "runs notebook 'region_summary', which the build does not produce" in found[1].message


RUNTIME = "mlspec-lake-lakedemo"


def run_cell_index(out: ArtifactSet, name: str) -> int:
    cells = notebook(out, name)["properties"]["cells"]
    return next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("%run"))


def test_missing_runtime_notebook(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    found = mutate(rendered, lambda out: out.artifacts.pop(f"synapse/notebooks/{RUNTIME}.json"))
    assert codes(found)[0] == ("MLS616", "transforms")
    assert f"no runtime notebook '{RUNTIME}'" in found[0].message
    ran = [d for d in found[1:] if "which the build does not produce" in d.message]
    assert sorted(d.dotted_path for d in ran) == [
        "transforms.customer_activity",
        "transforms.customer_latest",
        "transforms.region_summary",
    ]


def test_a_notebook_that_does_not_run_the_runtime_notebook(
    rendered: tuple[RenderContext, ArtifactSet],
) -> None:
    def change(out: ArtifactSet) -> None:
        notebook(out, "region_summary")["properties"]["cells"].pop(run_cell_index(out, "region_summary"))

    found = mutate(rendered, change)
    assert codes(found) == [("MLS616", "transforms.region_summary")]
    assert "does not %run the project's runtime notebook" in found[0].message


@pytest.mark.parametrize(
    ("source", "code", "message"),
    [
        (
            ["%run other_notebook"],
            "MLS616",
            "runs notebook 'other_notebook', which the build does not produce",
        ),
        (["%run"], "MLS615", "names no notebook, or more than the notebook alone"),
        ([f"%run {RUNTIME}\n", "x = 1"], "MLS615", "names no notebook, or more than the notebook alone"),
    ],
)
def test_a_run_cell_must_name_one_notebook_of_the_build(
    rendered: tuple[RenderContext, ArtifactSet], source: list[str], code: str, message: str
) -> None:
    def change(out: ArtifactSet) -> None:
        cells = notebook(out, "customer_latest")["properties"]["cells"]
        cells[run_cell_index(out, "customer_latest")]["source"] = source

    found = [d for d in mutate(rendered, change) if "runtime notebook" not in d.message]
    assert codes(found) == [(code, "transforms.customer_latest")]
    assert message in found[0].message


def test_a_notebook_runs_only_what_it_depends_on(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        caller = next(r for r in out.resources if str(r.address) == "synapse.notebook.customer_activity")
        caller.depends_on.clear()

    found = mutate(rendered, change)
    assert codes(found) == [("MLS616", "transforms.customer_activity")]
    assert f"runs notebook '{RUNTIME}' but does not depend on it" in found[0].message


def test_ipynb_twin_out_of_step(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        out.artifacts["synapse/notebooks/customer_latest.ipynb"].data["cells"].pop()

    assert codes(mutate(rendered, change, twins=False)) == [("MLS616", "transforms.customer_latest")]


def test_transform_without_activity(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        activities(out).pop()  # customer_latest

    assert codes(mutate(rendered, change)) == [("MLS616", "transforms.customer_latest")]


def test_depends_on_unknown_activity(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        activity(out, "region_summary")["dependsOn"][0]["activity"] = "nope"

    found = mutate(rendered, change)
    assert codes(found) == [("MLS617", "transforms.region_summary"), ("MLS617", "transforms.region_summary")]
    assert "unknown activity 'nope'" in found[0].message
    assert "its inputs on customer_activity" in found[1].message


def test_depends_on_missing_an_upstream_transform(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        activity(out, "customer_latest")["dependsOn"] = []

    found = mutate(rendered, change)
    assert codes(found) == [("MLS617", "transforms.customer_latest")]
    assert found[0].message == "activity customer_latest depends on nothing, its inputs on customer_activity"


def test_depends_on_cycle(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        activity(out, "customer_activity")["dependsOn"] = [
            {"activity": "customer_latest", "dependencyConditions": ["Succeeded"]}
        ]

    found = mutate(rendered, change)
    assert ("MLS617", "transforms") in codes(found)
    cycle = next(d for d in found if "cycle" in d.message)
    assert cycle.message.endswith("customer_activity -> customer_latest -> customer_activity")


def test_code_cell_that_does_not_parse(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        notebook(out, "customer_activity")["properties"]["cells"][-1]["source"] = [
            "write_output(\n",
            "    result",
        ]

    found = mutate(rendered, change)
    assert ("MLS615", "transforms.customer_activity") in codes(found)
    assert any("cell 6 is not valid Python: line 1: '(' was never closed" in d.message for d in found)


def test_cell_source_that_is_not_a_list_of_lines(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        notebook(out, "customer_latest")["properties"]["cells"][-1]["source"] = "result.show()"

    found = mutate(rendered, change)
    assert ("MLS615", "transforms.customer_latest") in codes(found)
    assert any("source is not a list of lines" in d.message for d in found)


def test_two_parameters_cells(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        notebook(out, "customer_latest")["properties"]["cells"][3]["metadata"] = {"tags": ["parameters"]}

    found = mutate(rendered, change)
    assert ("MLS618", "transforms.customer_latest") in codes(found)
    assert any("has 2 cells tagged 'parameters'" in d.message for d in found)


def test_parameter_the_notebook_does_not_set(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        cells = notebook(out, "customer_latest")["properties"]["cells"]
        cells[1]["source"] = [line for line in cells[1]["source"] if not line.startswith("run_date")]
        cells[1]["source"][-1] = cells[1]["source"][-1].rstrip("\n")

    found = mutate(rendered, change)
    assert codes(found) == [("MLS618", "transforms.customer_latest")]
    assert (
        found[0].message
        == "activity customer_latest passes parameter 'run_date', which notebook customer_latest does not set"
    )


def test_undeclared_pipeline_parameter(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        out.artifacts["synapse/pipelines/lakedemo.json"].data["properties"]["parameters"].pop("run_date")

    found = mutate(rendered, change)
    assert codes(found) == [
        ("MLS618", f"transforms.{t}") for t in ("customer_activity", "region_summary", "customer_latest")
    ]


def test_missing_spark_pool(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        activity(out, "customer_latest")["typeProperties"]["sparkPool"]["referenceName"] = ""
        notebook(out, "customer_latest")["properties"]["bigDataPool"]["referenceName"] = ""

    assert codes(mutate(rendered, change)) == [("MLS619", "transforms.customer_latest")] * 2


def test_activity_name_longer_than_synapse_allows(tmp_path: Path) -> None:
    data = lake_spec()
    long_name = "customer_latest_" + "x" * 44  # 60 characters: a valid transform name, too long an activity
    data["transforms"][long_name] = data["transforms"].pop("customer_latest")
    ctx, out = render_spec(tmp_path / "long", data)
    found = synapse.check(ctx, out)
    assert codes(found) == [("MLS614", f"transforms.{long_name}")]
    assert (
        found[0].message
        == f"pipeline activity name '{long_name}' is 60 characters; Synapse allows at most 55"
    )
    text = (tmp_path / "long" / "mlproject.yaml").read_text(encoding="utf-8").splitlines()
    assert found[0].location is not None
    assert long_name in text[found[0].location.line - 1]


def test_unreadable_python_transform(tmp_path: Path) -> None:
    _, out = render_spec(tmp_path / "missing", lake_spec(), code=None)
    assert codes(out.diagnostics) == [("MLS610", "transforms.region_summary.python")]
    assert "cannot read transform code 'transforms/summary.py'" in out.diagnostics[0].message
    cells = notebook(out, "region_summary")["properties"]["cells"]
    assert any("".join(c["source"]).startswith("raise RuntimeError(") for c in cells)


def test_python_transform_that_does_not_parse(tmp_path: Path) -> None:
    ctx, out = render_spec(
        tmp_path / "broken", lake_spec(), code="def transform(spark, **inputs)\n    return 1\n"
    )
    assert codes(out.diagnostics) == [("MLS611", "transforms.region_summary.python")]
    assert out.diagnostics[0].message == "'transforms/summary.py' is not valid Python: line 1: expected ':'"
    assert out.diagnostics[0].location is not None
    text = (tmp_path / "broken" / "mlproject.yaml").read_text(encoding="utf-8").splitlines()
    assert "python: transforms/summary.py" in text[out.diagnostics[0].location.line - 1]
    assert synapse.check(ctx, out) == []  # the notebook carries a cell that stops the run instead


def test_python_transform_without_a_transform_function(tmp_path: Path) -> None:
    _, out = render_spec(tmp_path / "nofunc", lake_spec(), code="def run(spark):\n    return None\n")
    assert codes(out.diagnostics) == [("MLS612", "transforms.region_summary.python")]


def test_column_type_that_is_not_one_spark_type(tmp_path: Path) -> None:
    """Decided from the spec: the check stage reports it; the renderer refuses to paste it."""
    data = copy.deepcopy(lake_spec())
    data["sources"]["customers"]["schema"]["region"] = "string, injected int"
    with pytest.raises(ValueError, match="is not a Spark SQL type"):  # never pasted into a DDL string
        render_spec(tmp_path / "types", data)
    resolved = api.resolve(api.load(tmp_path / "types" / "mlproject.yaml"), "dev", environ={})
    assert codes(resolved.diagnostics) == [("MLS613", "sources.customers.schema.region")]


def test_the_runtime_notebook_runs_on_a_transforms_pool_when_the_workspace_names_none(tmp_path: Path) -> None:
    data = lake_spec()
    data["workspace"].pop("spark_pool", None)
    for transform in data["transforms"].values():
        transform.setdefault("spark", {})["pool"] = "lakepool02"
    ctx, out = render_spec(tmp_path / "lake", data)
    assert synapse.check(ctx, out) == []
    pool = notebook(out, RUNTIME)["properties"]["bigDataPool"]
    assert pool == {"referenceName": "lakepool02", "type": "BigDataPoolReference"}


def test_a_runtime_notebook_without_a_pool_is_reported(rendered: tuple[RenderContext, ArtifactSet]) -> None:
    def change(out: ArtifactSet) -> None:
        notebook(out, RUNTIME)["properties"]["bigDataPool"]["referenceName"] = ""

    assert codes(mutate(rendered, change)) == [("MLS619", "transforms")]


# --- the activity cycle search ----------------------------------------------------------------------


def _is_cycle_of(cycle: list[str], edges: dict[str, list[str]]) -> bool:
    return (
        len(cycle) >= 2
        and cycle[0] == cycle[-1]
        and all(b in edges.get(a, []) for a, b in itertools.pairwise(cycle))
    )


@given(
    st.dictionaries(st.sampled_from("abcdefg"), st.lists(st.sampled_from("abcdefgh"), max_size=3), max_size=7)
)
def test_the_cycle_search_finds_a_real_cycle_exactly_when_there_is_one(edges: dict[str, list[str]]) -> None:
    from graphlib import CycleError, TopologicalSorter

    known = {node: [t for t in targets if t in edges] for node, targets in edges.items()}
    try:
        tuple(TopologicalSorter(known).static_order())
        acyclic = True
    except CycleError:
        acyclic = False
    cycle = checks._find_cycle(edges)
    assert (cycle is None) == acyclic
    assert cycle is None or _is_cycle_of(cycle, edges)


def test_the_cycle_search_walks_a_chain_of_thousands_without_recursing() -> None:
    chain = {f"t{i}": [f"t{i + 1}"] for i in range(20_000)}
    assert checks._find_cycle(chain) is None
    chain["t20000"] = ["t19990"]
    assert checks._find_cycle(chain) == [f"t{i}" for i in range(19_990, 20_001)] + ["t19990"]
