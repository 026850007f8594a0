"""Hostile text in any free-text field of the spec stays data in every artifact of a build.

A property test draws hostile strings (quotes, line breaks, ``{{ }}``, ``${{ }}``, ``</script>``,
YAML/JSON metacharacters, ARM ``[...]``, ``../``) mixed with random text and puts one into each
free-text field of the contract spec (SQL and DAX get it as a string literal, escaped per their
rules). The spec is written with ``yaml.safe_dump`` and built. Every artifact must parse (JSON,
all YAML documents, Python, notebook code cells, TMDL), and have the same structure as a build of
the same spec with a plain payload in each field: the same JSON/YAML key paths and leaf types, the
same Python syntax tree once string constants are blanked, the same ARM/KQL expressions and Azure
ML bindings once literals are blanked, the same TMDL declarations. The payload itself must turn up
as data (a string value, a Python string constant, a TMDL quoted value or expression) in every file
that the plain one turned up in. Specs the validator refuses (say, a payload that looks like a
credential) are counted, and must stay a minority.

Names that would lead out of the output folder (``../``, ``/``, ``\\``) are refused at the spec
line that holds them, before anything is written.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlspec import api
from mlspec.diagnostics import MlspecError

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "compiler" / "data" / "contract" / "mlproject.yaml"

# --- the fields ------------------------------------------------------------------------------


_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
"""Every character .NET and Python readers may take as a line break."""


def spark_sql_literal(text: str) -> str:
    """A Spark SQL string literal (default parser: backslash escapes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dax_literal(text: str) -> str:
    """A DAX string literal: double quotes, ``"`` doubled."""
    return '"' + text.replace('"', '""') + '"'


BASE_SQL = (
    "SELECT c.customer_id, c.tenure_months, c.monthly_charges, c.churned,\n"
    "       count(l.session_id) AS visits\n"
    "FROM customers c LEFT JOIN web_logs l ON c.customer_id = l.customer_id\n"
    "GROUP BY c.customer_id, c.tenure_months, c.monthly_charges, c.churned\n"
)


def one_line(text: str) -> str:
    """``text`` with control and format characters (line breaks included) as spaces."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)


def tag_value(text: str) -> str:
    """``text`` as Azure takes a tag value (MLS401 otherwise): no control characters, at most 256."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)[:256]


def expression_text(text: str) -> str:
    """``text`` with control characters other than tabs and line breaks as spaces, and no run of three
    backticks (TMDL's verbatim-expression delimiter)."""
    kept = "".join(
        " " if unicodedata.category(c) == "Cc" and not _LINE_BREAKS.match(c) and c != "\t" else c
        for c in text
    )
    while "```" in kept:
        kept = kept.replace("```", "` `")
    return kept


@dataclass(frozen=True)
class FreeText:
    """A free-text field: where it is in the spec and how a payload is written into it."""

    path: tuple[str | int, ...]
    embed: Callable[[str], str] = lambda text: text
    refused: Callable[[str], str] = lambda text: text
    """The payload without what the renderer refuses here by design, with a located error (TMDL
    cannot hold control characters; a text value is one line)."""


FIELDS: dict[str, FreeText] = {
    "project.description": FreeText(("project", "description")),
    "project.owner": FreeText(("project", "owner")),
    "project.tags": FreeText(("project", "tags", "cost-center"), refused=tag_value),
    "variable.description": FreeText(("variables", "lake_account", "description")),
    "grant.description": FreeText(("access", "grants", 0, "description")),
    "source.description": FreeText(("sources", "customers", "description")),
    "source.option": FreeText(("sources", "customers", "options", "comment")),
    "transform.description": FreeText(("transforms", "customer_features", "description")),
    "transform.sql": FreeText(
        ("transforms", "customer_features", "sql"),
        lambda text: BASE_SQL + "HAVING max(c.customer_id) <> " + spark_sql_literal(text) + "\n",
    ),
    "expectation.expression": FreeText(
        ("transforms", "customer_features", "expectations", 3, "expression"),
        lambda text: "customer_id <> " + spark_sql_literal(text),
    ),
    "model.description": FreeText(("model", "description")),
    "model.param": FreeText(("model", "training", "params", "loss")),
    "alert.description": FreeText(("monitoring", "alerts", 0, "description")),
    "report.workspace": FreeText(("reports", 0, "workspace")),
    "page.title": FreeText(("reports", 0, "pages", 0, "title")),
    "visual.title": FreeText(("reports", 0, "pages", 0, "visuals", 1, "title")),
    "measure.expression": FreeText(
        ("reports", 0, "measures", "churn_rate", "expression"),
        lambda text: (
            "CALCULATE(\n    AVERAGE(customer_features[tenure_months]),\n"
            f"    customer_features[customer_id] <> {dax_literal(text)}\n)"
        ),
        refused=expression_text,
    ),
    "measure.format": FreeText(("reports", 0, "measures", "churn_rate", "format"), refused=one_line),
}


def base_spec() -> dict[str, Any]:
    """The contract spec with every free-text field present (the contract leaves some out)."""
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    data["transforms"]["customer_features"]["expectations"].append({"expression": "customer_id IS NOT NULL"})
    data["reports"][0]["measures"] = {
        "churn_rate": {
            "table": "customer_features",
            "expression": "AVERAGE(customer_features[tenure_months])",
        }
    }
    return data


BASE = base_spec()


def _set(data: Any, path: tuple[str | int, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def spec_with(payloads: dict[str, str]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for name, text in payloads.items():
        _set(data, FIELDS[name].path, FIELDS[name].embed(text))
    return data


def plain(name: str) -> str:
    return f"plain {name.replace('.', ' ')} marker"


PLAIN = {name: plain(name) for name in FIELDS}

# --- what an artifact is made of -------------------------------------------------------------

Shape = list[tuple[Any, ...]]


@dataclass
class View:
    """An artifact as structure (what must not change) and its string data (where payloads belong)."""

    shape: Shape = field(default_factory=list)
    strings: list[str] = field(default_factory=list)


class _BlankStrings(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        return ast.Constant("") if isinstance(node.value, str) else node


def python_view(code: str, view: View, where: tuple[Any, ...]) -> None:
    tree = ast.parse(code)
    view.strings += [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]
    view.shape.append((*where, "python", ast.dump(_BlankStrings().visit(tree), include_attributes=False)))


_SINGLE_QUOTED = re.compile(r"'(?:[^']|'')*'")  # ARM and Power BI literals, TMDL names
_DOUBLE_QUOTED = re.compile(r'"(?:[^"]|"")*"')  # DAX and TMDL text
_TMDL_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")  # names and text values, left to right
_KQL_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_AML_BINDING = re.compile(r"\$\{\{.*?\}\}|\$\[\[.*?\]\]", re.S)
_MAGIC = re.compile(r"\A%%pyspark[ \t]*\n")
_RUN = re.compile(r"\A\s*%run\s")


def string_kind(style: str, path: tuple[Any, ...], value: str) -> tuple[Any, ...]:
    """What a string leaf *is* to the platform reading it: plain data, or code whose shape must not change."""
    if style == "arm":
        if path and path[-1] == "query":
            return ("kql", _KQL_LITERAL.sub('""', value))
        if value.startswith("[") and not value.startswith("[[") and value.endswith("]"):
            return ("arm-expression", _SINGLE_QUOTED.sub("''", value))
    if style == "azureml":
        if "command" in path:
            return ("command", value)
        if _AML_BINDING.search(value):
            return ("binding", tuple(_AML_BINDING.findall(value)))
    if style == "kubernetes" and ("command" in path or "args" in path):
        return ("command", value)
    return ("str",)


def data_strings(style: str, value: str) -> list[str]:
    """The text a platform reads out of a string leaf (ARM's ``[[`` escape, a Power BI ``'literal'``)."""
    out = [value]
    if style in ("arm", "json") and value.startswith("[["):  # manifest.json carries the ARM parts too
        out.append(value[1:])
    if len(value) >= 2 and value[0] == value[-1] == "'":
        out.append(value[1:-1].replace("''", "'"))
    return out


def tree_view(value: Any, style: str, view: View, path: tuple[Any, ...] = ()) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("cell_type"), str) and "source" in value:
            source = value["source"]
            text = "".join(source) if isinstance(source, list) else str(source)
            if value["cell_type"] == "code" and _RUN.match(text):
                # Synapse's notebook reference: its shape is the magic, the notebook name is data
                view.shape.append((*path, "source", "%run"))
                view.strings.append(text.split(None, 1)[1] if len(text.split(None, 1)) == 2 else "")
            elif value["cell_type"] == "code":
                python_view(_MAGIC.sub("", text), view, (*path, "source"))
            else:
                view.shape.append((*path, "source", value["cell_type"]))
                view.strings.append(text)
            rest = {k: v for k, v in value.items() if k != "source"}
            for key, item in rest.items():
                tree_view(item, style, view, (*path, key))
            return
        if not value:
            view.shape.append((*path, "{}"))
        for key, item in value.items():
            tree_view(item, style, view, (*path, key))
    elif isinstance(value, list):
        if not value:
            view.shape.append((*path, "[]"))
        for index, item in enumerate(value):
            tree_view(item, style, view, (*path, index))
    elif isinstance(value, str):
        view.shape.append((*path, *string_kind(style, path, value)))
        view.strings += data_strings(style, value)
    else:
        view.shape.append((*path, type(value).__name__))


def tmdl_view(text: str, view: View) -> None:
    """TMDL read the way Power BI reads it: declarations and properties (quoted values blanked),
    ``///`` descriptions, and expressions (the lines indented deeper than the line ending in ``=``)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip("\t"))
        content = line[depth:]
        if content.startswith("///"):
            view.strings.append(content[3:].strip())
            if not (view.shape and view.shape[-1] == ("tmdl", depth, "///")):
                view.shape.append(("tmdl", depth, "///"))
            continue
        for match in _TMDL_QUOTED.finditer(content):
            quote = match.group()[0]
            view.strings.append(match.group()[1:-1].replace(quote * 2, quote))
        blanked = _TMDL_QUOTED.sub(lambda m: m.group()[0] * 2, content)
        view.shape.append(("tmdl", depth, blanked))
        if blanked.rstrip().endswith("="):
            body, i = _expression(lines, i, depth)
            view.strings.append(body)
            view.strings += [m.group()[1:-1].replace('""', '"') for m in _DOUBLE_QUOTED.finditer(body)]
            view.shape.append(("tmdl-expression", _DOUBLE_QUOTED.sub('""', body)))


def _expression(lines: list[str], i: int, depth: int) -> tuple[str, int]:
    """The expression starting at line ``i`` (indented deeper than ``depth``), dedented, and the next line."""
    first = next((line for line in lines[i:] if line.strip()), "")
    inner = len(first) - len(first.lstrip("\t"))
    if inner <= depth:
        return "", i
    body: list[str] = []
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith("\t" * inner)):
        body.append(lines[i][inner:])
        i += 1
    return "\n".join(body).strip("\n"), i


def text_view(text: str, view: View) -> None:
    """A file in no structured format (Dockerfile, requirements.txt) is shell or pip input: free text
    has no business there, so its structure is its whole text."""
    view.shape.append(("text", text))
    view.strings.append(text)


JSON_SUFFIXES = frozenset({".json", ".ipynb", ".pbip", ".pbir", ".pbism", ".platform"})


def artifact_view(root: Path, relative: str) -> View:
    """Parse one build file (failing the test if it does not parse) into its :class:`View`."""
    file = root / relative
    text = file.read_text(encoding="utf-8-sig")
    view = View()
    if file.suffix in JSON_SUFFIXES:
        data = json.loads(text)
        arm = isinstance(data, dict) and "deploymentTemplate.json" in str(data.get("$schema", ""))
        tree_view(data, "arm" if arm else "json", view)
    elif file.suffix in (".yml", ".yaml"):
        style = relative.split("/", 1)[0] if relative.startswith(("azureml/", "aks/")) else "yaml"
        style = {"aks": "kubernetes"}.get(style, style)
        for index, document in enumerate(yaml.safe_load_all(text)):
            tree_view(document, style, view, (index,))
    elif file.suffix == ".py":
        python_view(text, view, ())
    elif file.suffix == ".tmdl":
        tmdl_view(text, view)
    else:
        text_view(text, view)
    return view


def build_views(root: Path) -> dict[str, View]:
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return {relative: artifact_view(root, relative) for relative in files}


# --- building --------------------------------------------------------------------------------


@dataclass
class Built:
    views: dict[str, View]
    resolved: dict[str, Any]
    """The spec data after interpolation (``$${`` is a literal ``${``), for the payloads' expected values."""


def build(folder: Path, data: dict[str, Any]) -> Built:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "mlproject.yaml"
    spec.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    api.build(spec, "dev", out_dir=folder / "out", environ={})
    resolved = api.resolve(api.load(spec), "dev", environ={})
    return Built(build_views(folder / "out"), resolved.spec.data)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("plain"), spec_with(PLAIN))


def rendered_in(baseline: Built) -> dict[str, set[str]]:
    """Field → the files its plain marker shows up in."""
    return {
        name: {f for f, view in baseline.views.items() if any(marker in s for s in view.strings)}
        for name, marker in PLAIN.items()
    }


def expected_forms(value: str) -> set[str]:
    """How a value may legitimately appear: as it is, with Azure ML's binding openers broken up
    (``$ {{``), as canvas text (control characters shown as spaces), or as a TMDL expression (a
    line-based format: every line break is a newline, trailing blanks and outer blank lines go)."""
    inert = value.replace("${{", "$ {{").replace("$[[", "$ [[")
    canvas = "".join(" " if ord(c) < 32 or c in "\x7f\u2028\u2029" else c for c in value)
    lines = "\n".join(line.rstrip() for line in _LINE_BREAKS.sub("\n", value).split("\n")).strip("\n")
    return {value, inert, canvas, lines}


def assert_same_structure(hostile: Built, baseline: Built, payloads: dict[str, str]) -> None:
    assert sorted(hostile.views) == sorted(baseline.views), "the hostile build wrote other files"
    for relative, view in hostile.views.items():
        expected = baseline.views[relative].shape
        if view.shape != expected:
            diff = [(h, b) for h, b in zip(view.shape, expected, strict=False) if h != b][:3]
            pytest.fail(
                f"{relative}: hostile text changed the structure\n"
                f"payloads: {payloads!r}\nfirst differences (hostile, plain): {diff!r}\n"
                f"lengths: {len(view.shape)} vs {len(expected)}"
            )


def assert_payloads_survive_as_data(hostile: Built, baseline: Built, payloads: dict[str, str]) -> None:
    """In every file that shows a field's plain marker, the hostile payload shows up as data."""
    for name, files in sorted(rendered_in(baseline).items()):
        if name not in payloads:
            continue
        value = _get(hostile.resolved, FIELDS[name].path)
        forms = expected_forms(value)
        for file in sorted(files):
            found = any(form in s for s in hostile.views[file].strings for form in forms)
            assert found, f"{name}: {value!r} is not in {file} as data (the plain marker was)"


# --- hostile strings -------------------------------------------------------------------------

FRAGMENTS = (
    "'",
    '"',
    '"""',
    "'''",
    "\\",
    "\\'",
    "\n",
    "\r\n",
    "\t",
    "`",
    "{{ evil }}",
    "{% if x %}",
    "{#",
    "${{ parent.inputs.x }}",
    "$[[inputs.x]]",
    "$${literal}",
    "</script>",
    "<script>alert(1)</script>",
    "-->",
    "---\n",
    "...\n",
    ": ",
    "- ",
    " # ",
    "&anchor ",
    "*alias",
    "!!python/object/apply:os.system ['id']",
    "? ",
    "|",
    ">",
    "%",
    "@",
    "@pipeline().parameters.x",
    "@{concat(1)}",
    "[concat('a')]",
    "[",
    "]",
    "{",
    "}",
    '{"k": [1]}',
    ",",
    "/*",
    "*/",
    "-- ",
    "//",
    ";",
    '"); import os; os.system("id',
    "'); DROP TABLE x; --",
    "$(id)",
    "../",
    "../../etc/passwd",
    "..\\",
    "%%pyspark\n",
    "\u2028",
    "\u202e",
    "\ufeff",
    "é",
    "\U0001d4b3",  # astral plane
    "0x1F",
    "null",
    "true",
    "~",
)

hostile_text = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
    ),
    min_size=1,
    max_size=8,
).map("".join)


hostile_payloads = st.fixed_dictionaries(dict.fromkeys(FIELDS, hostile_text)).map(
    lambda drawn: {name: FIELDS[name].refused(text).strip() or "x" for name, text in drawn.items()}
)


def everywhere(text: str) -> dict[str, str]:
    """``text`` in every field (less what a field refuses by design)."""
    return {name: spec.refused(text).strip() for name, spec in FIELDS.items()}


# --- the tests -------------------------------------------------------------------------------


def test_the_fields_are_rendered_where_the_payloads_are_looked_for(baseline: Built) -> None:
    """Guards the property test: it must put payloads where renderers read them."""
    rendered = {name for name, files in rendered_in(baseline).items() if files}
    # Owner, variable and source descriptions are documentation only today: no artifact carries them.
    assert rendered >= set(FIELDS) - {"project.owner", "variable.description", "source.description"}


@pytest.mark.parametrize(
    ("style", "plain_value", "hostile_value"),
    [
        ("arm", "text", "[concat('a')]"),  # an ARM literal starting with [ must be written [[
        ("azureml", "text", "${{parent.inputs.x}}"),  # a binding Azure ML would resolve
        ("kubernetes", ["serve"], ["serve", "--evil"]),
        ("json", {"a": "text"}, {"a": {"b": "text"}}),
    ],
)
def test_the_structure_oracle_notices_code_where_data_was(
    style: str, plain_value: Any, hostile_value: Any
) -> None:
    """Guards the property test: the comparison it relies on does see an injection."""
    plain_view, hostile_view = View(), View()
    key = "command" if style == "kubernetes" else "description"
    tree_view({key: plain_value}, style, plain_view)
    tree_view({key: hostile_value}, style, hostile_view)
    assert plain_view.shape != hostile_view.shape


def test_the_oracle_accepts_escaped_data_and_sees_python_and_tmdl_injections() -> None:
    def shape(kind: str, text: str) -> Shape:
        view = View()
        if kind == "python":
            python_view(text, view, ())
        else:
            tmdl_view(text, view)
        return view.shape

    arm_plain, arm_escaped = View(), View()
    tree_view({"d": "text"}, "arm", arm_plain)
    tree_view({"d": "[[concat('a')]"}, "arm", arm_escaped)
    assert arm_plain.shape == arm_escaped.shape
    assert shape("python", 'x = "a"\n') == shape("python", "x = '\\\")\\nimport os'\n")
    assert shape("python", 'x = "a"\n') != shape("python", 'x = "a"; import os\n')
    table = "table 't'\n\tmeasure 'm' =\n\t\t\t{}\n\t\tformatString: {}\n"
    assert shape("tmdl", table.format('"a"', '"0"')) == shape(
        "tmdl", table.format('"x\n\t\t\ty"""', '"0 ""%"""')
    )
    assert shape("tmdl", table.format('"a"', '"0"')) != shape("tmdl", table.format('"a"\n\tcolumn c', '"0"'))


def test_hostile_text_in_free_text_fields_stays_data(baseline: Built) -> None:
    tally = {"accepted": 0, "refused": 0}
    refusals: list[str] = []

    @settings(
        max_examples=30,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payloads=hostile_payloads)
    @example(payloads=everywhere("[concat('an ARM', 'expression')]"))
    @example(payloads=everywhere("${{parent.inputs.training_data}}"))
    @example(payloads=everywhere('"\n---\nkind: Secret\n# </script>'))
    def hostile_build(payloads: dict[str, str]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            try:
                hostile = build(Path(folder), spec_with(payloads))
            except MlspecError as exc:
                tally["refused"] += 1
                for diagnostic in exc.diagnostics:
                    # A refusal is a problem located in the spec, never one in a generated file.
                    assert diagnostic.location is not None, diagnostic
                    assert Path(diagnostic.location.file).name == "mlproject.yaml", diagnostic
                refusals.append("; ".join(f"{d.code} {d.dotted_path}" for d in exc.diagnostics))
                return
            tally["accepted"] += 1
            assert_same_structure(hostile, baseline, payloads)
            assert_payloads_survive_as_data(hostile, baseline, payloads)

    hostile_build()
    total = tally["accepted"] + tally["refused"]
    assert tally["accepted"] >= 0.8 * total, f"most hostile specs must build; refused: {refusals}"


MAXIMAL = "".join(FRAGMENTS)


@pytest.fixture(scope="module")
def maximal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Built, dict[str, str]]:
    """Every fragment at once, in every field."""
    folder = tmp_path_factory.mktemp("maximal")
    payloads = everywhere(MAXIMAL)
    return folder / "out", build(folder, spec_with(payloads)), payloads


def test_every_fragment_at_once_stays_data(
    maximal: tuple[Path, Built, dict[str, str]], baseline: Built
) -> None:
    _, hostile, payloads = maximal
    assert_same_structure(hostile, baseline, payloads)
    assert_payloads_survive_as_data(hostile, baseline, payloads)


def test_every_fragment_at_once_passes_the_platform_checks(
    maximal: tuple[Path, Built, dict[str, str]],
) -> None:
    from mlspec.compiler.platform_checks import check_build_dir

    out, _, _ = maximal
    problems = check_build_dir(out)
    assert problems == [], "\n".join(f"{p.artifact}:{p.where}: {p.message} ({p.checker})" for p in problems)


def test_a_transform_description_that_reads_like_an_expression_passes_the_synapse_check(
    tmp_path: Path,
) -> None:
    from mlspec.compiler.platform_checks import check_synapse_pipeline

    data = spec_with({"transform.description": "@pipeline().parameters.region is no parameter, just text"})
    build(tmp_path, data)
    pipeline = json.loads((tmp_path / "out" / "synapse" / "pipelines" / "churn.json").read_text("utf-8"))
    assert pipeline["properties"]["activities"][0]["description"].startswith("@pipeline()")
    assert check_synapse_pipeline(pipeline) == []


# --- names that would leave the output folder ------------------------------------------------


def _new_transform(name: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data["transforms"][name] = {
            "inputs": ["customers"],
            "sql": "SELECT * FROM customers",
            "output": {"path": "abfss://curated@contosolakedev.dfs.core.windows.net/churn/escape/"},
        }

    return mutate


def _setter(path: tuple[str | int, ...], value: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: _set(data, path, value)


def _new_environment(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["environments"].update({name: {}})


ESCAPING_NAMES = ("../escaped", "a/b", "a\\b", "..", "/abs")
NameCase = tuple[str, str, str, Callable[[dict[str, Any]], None]]
NAME_CASES: list[NameCase] = [
    *[(f"report {n!r}", n, "MLS401", _setter(("reports", 0, "name"), n)) for n in ESCAPING_NAMES],
    *[(f"endpoint {n!r}", n, "MLS401", _setter(("deployment", "endpoint"), n)) for n in ESCAPING_NAMES],
    *[(f"transform {n!r}", n, "MLS401", _new_transform(n)) for n in ESCAPING_NAMES],
    ("project '../x'", "../x", "MLS401", _setter(("project", "name"), "../x")),
    ("environment '../x'", "../x", "MLS401", _new_environment("../x")),
    ("report 'CON'", "CON", "MLS664", _setter(("reports", 0, "name"), "CON")),  # a device name on Windows
]


@pytest.mark.parametrize(("case", "name", "code", "mutate"), NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_a_name_that_would_leave_the_output_folder_is_refused_at_its_line(
    case: str, name: str, code: str, mutate: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    data = copy.deepcopy(BASE)
    mutate(data)
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    before = _snapshot(tmp_path)
    with pytest.raises(MlspecError) as caught:
        api.build(spec, "dev", out_dir=sandbox / "out", environ={})
    lines = spec.read_text(encoding="utf-8").splitlines()
    located = [
        d
        for d in caught.value.diagnostics
        if d.code == code
        and d.location is not None
        and d.location.file == str(spec)
        and name in lines[d.location.line - 1]
    ]
    assert located, f"{case}: no {code} at the line holding {name!r}: {caught.value.diagnostics}"
    assert _snapshot(tmp_path) == before, "the refused build wrote or changed files"


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its content (``None`` for a folder)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")
    }
