"""The registry of diagnostic codes (mlspec/diagnostic_codes/) against the code that reports them.

- every ``"MLSnnn"`` in mlspec/ (and any code in the templates) is registered, with the severity its
  call site reports it at;
- every registered code is used somewhere (no dead entries);
- docs/diagnostics.md is exactly what the generator writes;
- every diagnostic that validate and build give for the examples and for broken specs is registered,
  at a severity the registry allows;
- the SARIF reporter's rules come from the registry.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import mlspec
from mlspec import api
from mlspec.diagnostic_codes import REGISTRY, lookup
from mlspec.diagnostic_codes.__main__ import main as generator_main
from mlspec.diagnostic_codes.markdown import REGENERATE, render_reference
from mlspec.diagnostics import Diagnostic, MlspecError, Severity
from mlspec.spec_schema.resolve import environment_names

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(mlspec.__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
DOCS = ROOT / "docs" / "diagnostics.md"
EXAMPLES = sorted(p for p in (ROOT / "projects").glob("*/mlproject.yaml"))
CHURN = ROOT / "projects" / "churn"

CODE = re.compile(r"MLS\d{3}")
"""A code in any text (the templates)."""

# The helpers that report a diagnostic, by the last part of their name: the severity their call gives.
_WARNING_CALLS = re.compile(r"(^|[._])(warn|warning|source_warning)$")
_ERROR_CALLS = re.compile(r"(^|[._])(error|source_error)$")


def _python_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _is_registry(path: Path) -> bool:
    return (PACKAGE / "diagnostic_codes") in path.parents


@functools.cache
def _code_literals() -> tuple[tuple[str, Path, int, Severity | None], ...]:
    """Every string literal that is exactly a code, where it is and the severity its call reports it at
    (``None`` where the literal is not the argument of a reporting helper, e.g. a set of codes)."""
    return tuple(found for path in _python_files() if not _is_registry(path) for found in _literals_in(path))


def _literals_in(path: Path) -> Iterator[tuple[str, Path, int, Severity | None]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value):
            call = parents.get(node)
            severity = None
            if isinstance(call, ast.Call) and node in call.args:
                name = ast.unparse(call.func)
                if _WARNING_CALLS.search(name):
                    severity = Severity.WARNING
                elif _ERROR_CALLS.search(name):
                    severity = Severity.ERROR
            yield node.value, path, node.lineno, severity


def _used_codes() -> dict[str, str]:
    """Every code used in mlspec/ → one place that uses it."""
    used = {code: f"{path.relative_to(ROOT)}:{line}" for code, path, line, _ in _code_literals()}
    for template in sorted(
        p for p in TEMPLATES.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ):
        for number, text in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            for code in CODE.findall(text):
                used.setdefault(code, f"{template.relative_to(ROOT)}:{number}")
    return used


# --- the registry against the source ----------------------------------------------------------------


def test_every_code_used_in_mlspec_is_registered() -> None:
    unregistered = {code: where for code, where in _used_codes().items() if code not in REGISTRY}
    assert not unregistered, (
        f"codes used but not registered in mlspec/diagnostic_codes/: {unregistered}; add an entry, then run "
        f"`{REGENERATE}`"
    )


def test_every_code_is_registered_at_the_severity_its_call_site_reports() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {code} reported as {severity.value}, registered as "
        f"{REGISTRY[code].severity_text}"
        for code, path, line, severity in _code_literals()
        if severity is not None and code in REGISTRY and severity not in REGISTRY[code].severities
    ]
    assert not wrong, "\n".join(wrong)


def test_every_registered_code_is_used_somewhere() -> None:
    dead = sorted(set(REGISTRY) - set(_used_codes()))
    assert not dead, f"registered but never used in mlspec/ (remove them from the registry): {dead}"


def test_registry_entries_are_complete_and_anchored() -> None:
    for code, entry in REGISTRY.items():
        assert entry.code == code and CODE.fullmatch(code)
        assert entry.title and "\n" not in entry.title and not entry.title.endswith(".")
        assert entry.severities and entry.severities <= set(Severity)
        assert entry.docs_anchor == f"docs/diagnostics.md#{code.lower()}"
        assert entry.exit_code in (1, 2)
    assert lookup("MLS301") is REGISTRY["MLS301"]
    assert lookup("MLS999") is None


def test_usage_codes_of_the_cli_are_the_registered_exit_two_codes() -> None:
    from mlspec.cli_conventions import USAGE_CODES

    registered = {code for code, entry in REGISTRY.items() if entry.exit_code == 2}
    assert registered == set(USAGE_CODES)


# --- the generated page -----------------------------------------------------------------------------


def test_docs_page_is_what_the_registry_generates() -> None:
    expected = render_reference(REGISTRY)
    current = DOCS.read_text(encoding="utf-8") if DOCS.is_file() else ""
    assert current == expected, f"docs/diagnostics.md is stale: run `{REGENERATE}`"


def test_docs_page_has_one_anchored_row_per_code_and_no_group_rows() -> None:
    page = render_reference(REGISTRY)
    rows = re.findall(r'^\| <a id="(mls\d{3})"></a>(MLS\d{3}) \|', page, flags=re.MULTILINE)
    assert sorted(code for _, code in rows) == sorted(REGISTRY)  # each code once
    assert all(anchor == code.lower() for anchor, code in rows)
    assert not re.search(
        r"\bMLS\dxx\b", "\n".join(line for line in page.splitlines() if line.startswith("| "))
    )


def test_docs_page_keeps_the_facts_of_the_old_tables() -> None:
    page = render_reference(REGISTRY)
    row = {
        code: line for line in page.splitlines() for code in CODE.findall(line[:40]) if line.startswith("| ")
    }
    assert "error (exit 2)" in row["MLS000"] and "`/dev/zero`" in row["MLS000"]
    assert "error (exit 2)" in row["MLS602"] and "`.mlspec-build`" in row["MLS602"]
    assert "error (exit 2)" in row["MLS603"] and "staging folder is removed" in row["MLS603"]
    assert "error or warning" in row["MLS320"] and "error or warning" in row["MLS406"]
    assert "`sql: \\|`" in row["MLS007"]  # a | in a cell is escaped
    assert "lock id" in row["MLS802"] and "`AZURE_STORAGE_CONNECTION_STRING` unparseable" in row["MLS806"]
    assert "unless `--strict`" in page and "`[redacted]`" in page and "(plan.md)" in page


def test_generator_writes_and_checks_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "diagnostics.md"
    assert generator_main(["--check", str(page)]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert generator_main(["--write", str(page)]) == 0
    assert page.read_text(encoding="utf-8") == render_reference(REGISTRY)
    assert generator_main(["--check", str(page)]) == 0


# --- what validate and build really report ----------------------------------------------------------


def _reported(spec: Path) -> list[Diagnostic]:
    """What validate gives for every environment, and what build gives (or refuses with) for each."""
    found = list(api.validate_file(spec, environ={}).diagnostics)
    try:
        environments = environment_names(api.load(spec))
    except MlspecError:
        return found
    for environment in environments:
        try:
            found += api.build(spec, environment, environ={}).diagnostics
        except MlspecError as refused:
            found += refused.diagnostics
    return found


def _unregistered_or_wrong(found: list[Diagnostic]) -> list[str]:
    problems = []
    for d in found:
        entry = lookup(d.code)
        if entry is None:
            problems.append(f"{d.code} (not registered): {d.message}")
        elif d.severity not in entry.severities:
            problems.append(
                f"{d.code} reported as {d.severity.value}, registered {entry.severity_text}: {d.message}"
            )
    return problems


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_report_only_registered_codes(spec: Path) -> None:
    assert not _unregistered_or_wrong(_reported(spec))


def test_spec_files_of_the_tests_report_only_registered_codes() -> None:
    specs = sorted(p for p in (ROOT / "tests").rglob("*.yaml") if "golden" not in p.parts)
    found = [d for spec in specs for d in api.validate_file(spec, environ={}).diagnostics]
    assert found, "the test data holds broken specs"
    assert not _unregistered_or_wrong(found)


# Edits of projects/churn that break it at validate or at build time: (what, old text, new text).
BROKEN_CHURN = [
    ("no prediction log", "  log_predictions:\n", "  unused_log_predictions:\n"),
    ("visual names an undeclared measure", "measure: customers}", "measure: customer_count}"),
    ("canary split far from its percent", "canary_percent: 10}", "canary_percent: 45}"),
    ("no allow_from", "    allow_from: [10.10.0.0/16]          # dev app subnet\n", ""),
    ("reserved namespace", "namespace: churn", "namespace: kube-system"),
    ("conda packages", "pip: [scikit-learn", "conda: [libgomp]\n      pip: [scikit-learn"),
    ("column type not Spark", "tenure_months: int\n", "tenure_months: integer32\n"),
    ("feature with a comma", "      - visits\n", "      - 'visits,x'\n"),
    (
        "retrain alert that says notify",
        "      window: 1d\n      action: retrain",
        "      window: 1d\n      action: notify",
    ),
    ("unknown input", "inputs: [web_logs]", "inputs: [web_log]"),
]


@pytest.mark.parametrize("what,old,new", BROKEN_CHURN, ids=[case[0] for case in BROKEN_CHURN])
def test_broken_specs_report_only_registered_codes(tmp_path: Path, what: str, old: str, new: str) -> None:
    project = tmp_path / "churn"
    shutil.copytree(CHURN, project, ignore=shutil.ignore_patterns("build", ".mlspec"))
    spec = project / "mlproject.yaml"
    text = spec.read_text(encoding="utf-8")
    assert old in text, what
    spec.write_text(text.replace(old, new, 1), encoding="utf-8")
    found = _reported(spec)
    baseline = {(d.code, d.message) for d in _reported(CHURN / "mlproject.yaml")}
    assert {(d.code, d.message) for d in found} - baseline, f"{what}: the edit reports nothing new"
    assert not _unregistered_or_wrong(found)


# --- the SARIF reporter -----------------------------------------------------------------------------


def _sarif(*diagnostics: Diagnostic) -> dict[str, object]:
    from mlspec.reporters.sarif import write_sarif

    out = io.StringIO()
    write_sarif(
        api.ValidationReport([api.FileResult("mlproject.yaml", ["dev"], list(diagnostics))]), out, False
    )
    document: dict[str, object] = json.loads(out.getvalue())
    return document


def test_sarif_rules_take_name_description_and_help_uri_from_the_registry() -> None:
    document = _sarif(
        Diagnostic.error("MLS301", "transform 'x' reads unknown input 'y'"),
        Diagnostic.warning("MLS629", "no model monitor is rendered"),
    )
    rules = document["runs"][0]["tool"]["driver"]["rules"]  # type: ignore[index]
    by_id = {rule["id"]: rule for rule in rules}
    assert list(by_id) == ["MLS301", "MLS629"]
    unknown_input = by_id["MLS301"]
    assert unknown_input["shortDescription"]["text"] == REGISTRY["MLS301"].title
    assert unknown_input["fullDescription"]["text"] == REGISTRY["MLS301"].title  # it has no more to say
    assert unknown_input["helpUri"].endswith("/docs/diagnostics.md#mls301")
    assert unknown_input["helpUri"].startswith("https://")
    assert unknown_input["name"] == "TransformInputIsNotASourceOrTransform"
    assert unknown_input["defaultConfiguration"] == {"level": "error"}
    assert by_id["MLS629"]["defaultConfiguration"] == {"level": "warning"}


def test_sarif_rule_of_an_unregistered_code_still_has_an_id() -> None:
    document = _sarif(Diagnostic.error("MLS999", "from a newer mlspec"))
    assert document["runs"][0]["tool"]["driver"]["rules"] == [{"id": "MLS999", "name": "MLS999"}]  # type: ignore[index]
