"""The loader: what YAML lets through but a spec must not, each reported at the place it was written."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlspec import api
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.spec_schema import loader
from mlspec.spec_schema.loader import MAX_NESTING_DEPTH, MAX_SPEC_BYTES, load_spec, parse_spec

from .spec_text import CONTRACT, DATA, Validate, contract_with, position

LOADER_DATA = DATA / "loader"
REPO = Path(__file__).resolve().parents[2]


def load_error(source: Path | str | bytes) -> Diagnostic:
    """The single diagnostic loading ``source`` (a file, or spec text) fails with."""
    with pytest.raises(MlspecError) as info:
        if isinstance(source, Path):
            load_spec(source)
        else:
            parse_spec(source, "spec.yaml")
    assert len(info.value.diagnostics) == 1, info.value.diagnostics
    return info.value.diagnostics[0]


def where(diagnostic: Diagnostic) -> tuple[int, int]:
    assert diagnostic.location is not None
    return diagnostic.location.line, diagnostic.location.column


# --- duplicate and non-string keys ----------------------------------------------------------------


def test_duplicate_key_reports_second_occurrence() -> None:
    path = LOADER_DATA / "duplicate_key.yaml"
    found = load_error(path)
    assert found.code == "MLS002"
    assert found.message == "duplicate key 'format' (first defined at line 7)"
    assert found.location is not None and found.location.file == str(path)
    assert where(found) == position(path.read_text(), "format: parquet")
    assert found.hint is not None and "keep only the last" in found.hint


def test_duplicate_key_in_flow_mapping_reports_second_occurrence() -> None:
    path = LOADER_DATA / "duplicate_flow_key.yaml"
    found = load_error(path)
    assert found.code == "MLS002"
    assert "duplicate key 'name'" in found.message
    assert where(found) == position(path.read_text(), "name: churn2")


def test_duplicate_key_in_full_spec_fails_validation_at_second_key(validate: Validate) -> None:
    text = contract_with(("  location: westeurope\n", "  location: westeurope\n  location: northeurope\n"))
    validate(text).only(
        "MLS002", "duplicate key 'location' (first defined at line 15)", "location: northeurope"
    )


@pytest.mark.parametrize("key", ["1", "on", "off", "yes", "true", "null", "~", "3.5", "2024-01-01"])
def test_non_string_key_is_rejected_at_the_key(key: str) -> None:
    text = f"apiVersion: mlspec/v1\nproject:\n  name: churn\n  tags:\n    {key}: x\n"
    found = load_error(text)
    assert found.code == "MLS003"
    assert found.message == f"mapping key {key!r} is not a string"
    assert where(found) == (5, 5)
    assert found.hint is not None and f'quote the key ("{key}")' in found.hint


def test_collection_key_is_rejected() -> None:
    found = load_error("apiVersion: mlspec/v1\n? [a, b]\n: x\n")
    assert found.code == "MLS003"
    assert "'a collection' is not a string" in found.message
    assert where(found) == (2, 3)


def test_quoted_keys_that_look_like_booleans_and_numbers_are_strings(validate: Validate) -> None:
    text = contract_with(('tags: {cost-center: "4711"}', 'tags: {cost-center: "4711", "on": call, "1": one}'))
    checked = validate(text)
    checked.assert_clean()
    assert api.load(checked.file).data["project"]["tags"] == {"cost-center": "4711", "on": "call", "1": "one"}


def test_merge_key_merges_and_explicit_keys_win() -> None:
    document = parse_spec("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\n")
    assert document.data["other"] == {"x": 3, "y": 2}


def test_merge_key_is_not_a_duplicate_but_a_repeated_explicit_key_is() -> None:
    parse_spec("base: &b {x: 1}\nother:\n  <<: *b\n  x: 2\n")  # x from the merge and x written: fine
    found = load_error("base: &b {x: 1}\nother:\n  <<: *b\n  x: 2\n  x: 3\n")
    assert found.code == "MLS002"
    assert where(found) == (5, 3)


def test_anchors_aliases_and_merge_keys_in_a_real_spec_are_accepted() -> None:
    path = LOADER_DATA / "aliases_and_merge_keys.yaml"
    result = api.validate_file(path, all_environments=True, environ={})
    assert result.diagnostics == []
    data = api.load(path).data
    assert data["sources"]["web_logs_archive"]["format"] == "json"
    assert data["sources"]["web_logs_archive"]["path"].startswith("abfss://archive@")
    assert data["transforms"]["weekly_visits"]["spark"] == data["transforms"]["customer_features"]["spark"]


def test_locate_finds_the_written_key_over_the_merged_one() -> None:
    document = parse_spec("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\n")
    assert (document.locate(("other", "x")).line, document.locate(("other", "x")).column) == (4, 6)


# --- aliases --------------------------------------------------------------------------------------


def test_alias_bomb_is_rejected_at_the_first_repeated_anchor() -> None:
    path = LOADER_DATA / "alias_bomb.yaml"
    found = load_error(path)
    assert found.code == "MLS004"
    assert found.message == "anchors and aliases expand to more than 20000 nodes"
    assert where(found) == position(path.read_text(), "&a [")
    assert found.hint is not None and "exponentially" in found.hint


def test_alias_bomb_fails_validate_file_without_expanding() -> None:
    result = api.validate_file(LOADER_DATA / "alias_bomb.yaml", environ={})
    assert [d.code for d in result.diagnostics] == ["MLS004"]


def test_recursive_alias_is_rejected() -> None:
    path = LOADER_DATA / "recursive_alias.yaml"
    found = load_error(path)
    assert found.code == "MLS004"
    assert "refers to itself" in found.message
    assert where(found) == position(path.read_text(), "&loop")


def test_alias_budget_counts_expanded_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "apiVersion: mlspec/v1\nlist: &l [1, 2, 3, 4, 5]\ncopies: [*l, *l, *l]\n"
    assert parse_spec(text).data["copies"] == [[1, 2, 3, 4, 5]] * 3
    monkeypatch.setattr(loader, "MAX_EXPANDED_NODES", 20)  # written: 17 nodes; expanded: 29
    found = load_error(text)
    assert found.code == "MLS004"
    assert where(found) == position(text, "&l")


def test_undefined_alias_is_a_syntax_error_at_the_alias() -> None:
    found = load_error("apiVersion: mlspec/v1\nproject: *missing\n")
    assert found.code == "MLS001"
    assert "undefined alias" in found.message
    assert where(found) == (2, 10)


# --- size, encoding, tabs -------------------------------------------------------------------------


def padded_contract(size: int) -> bytes:
    """The contract followed by a comment making the file exactly ``size`` bytes."""
    body = CONTRACT.encode()
    filler = size - len(body) - 2  # "#" and "\n"
    assert filler >= 0
    return body + b"#" + b"x" * filler + b"\n"


def test_spec_over_size_limit_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "mlproject.yaml"
    path.write_bytes(padded_contract(MAX_SPEC_BYTES + 1))
    found = load_error(path)
    assert found.code == "MLS005"
    assert (
        found.message
        == f"the spec is larger than {MAX_SPEC_BYTES // 1024} KiB"
        == "the spec is larger than 8192 KiB"
    )
    assert where(found) == (1, 1)
    assert [d.code for d in api.validate_file(path, environ={}).diagnostics] == ["MLS005"]


def test_spec_text_over_size_limit_is_rejected() -> None:
    found = load_error(padded_contract(MAX_SPEC_BYTES + 1).decode())
    assert found.code == "MLS005"


def test_spec_exactly_at_size_limit_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "mlproject.yaml"
    path.write_bytes(padded_contract(MAX_SPEC_BYTES))
    assert path.stat().st_size == MAX_SPEC_BYTES
    assert api.validate_file(path, environ={}).diagnostics == []


def test_non_utf8_byte_is_reported_at_its_character_column() -> None:
    path = LOADER_DATA / "non_utf8.yaml"
    raw = path.read_bytes()
    found = load_error(path)
    assert found.code == "MLS006"
    assert found.message == "the spec is not valid UTF-8 (byte 0xe8)"
    # Columns count characters: the two "é" before the bad byte are one column each.
    assert where(found) == position(raw.decode("utf-8", "replace"), "\ufffd") == (4, 35)
    assert found.hint == "save the file as UTF-8"


@pytest.mark.parametrize(
    ("name", "byte", "expected"),
    [("bom_non_utf8.yaml", "0xe9", (4, 19)), ("bom_non_utf8_first_line.yaml", "0xff", (1, 21))],
)
def test_non_utf8_byte_after_a_bom_names_the_byte_and_its_place(
    name: str, byte: str, expected: tuple[int, int]
) -> None:
    path = LOADER_DATA / name
    found = load_error(path)
    assert found.code == "MLS006"
    assert found.message == f"the spec is not valid UTF-8 (byte {byte})"
    assert where(found) == position(path.read_bytes().decode("utf-8-sig", "replace"), "\ufffd") == expected


def test_bom_is_accepted() -> None:
    path = LOADER_DATA / "bom.yaml"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert api.validate_file(path, all_environments=True, environ={}).diagnostics == []


def test_bom_does_not_shift_first_line_columns(validate: Validate) -> None:
    text = contract_with(("apiVersion: mlspec/v1", "apiVersion: mlspec/v2"))
    checked = validate("\ufeff" + text)
    assert [d.code for d in checked.diagnostics] == ["MLS103"]
    assert where(checked.diagnostics[0]) == position(text, "mlspec/v2") == (1, 13)


@pytest.mark.parametrize(
    ("name", "at"), [("tab_indent.yaml", "\tdescription"), ("tab_after_spaces.yaml", "\tteam")]
)
def test_tab_in_indentation_is_rejected_at_the_tab(name: str, at: str) -> None:
    path = LOADER_DATA / name
    found = load_error(path)
    assert found.code == "MLS007"
    assert found.message == "tab character in indentation"
    assert where(found) == position(path.read_text(), at)
    assert found.hint == "indent YAML with spaces, never tabs"


def test_tab_in_indentation_that_yaml_accepts_is_still_rejected() -> None:
    # libyaml takes a tab-indented blank line inside a flow sequence; the spec does not.
    text = "apiVersion: mlspec/v1\nproject:\n  tags: [\n\t a]\n"
    found = load_error(text)
    assert found.code == "MLS007"
    assert where(found) == (4, 1)


def test_tab_inside_sql_block_is_accepted_and_kept() -> None:
    path = LOADER_DATA / "tab_in_sql.yaml"
    assert api.validate_file(path, all_environments=True, environ={}).diagnostics == []
    assert (
        "\t     count(l.session_id) AS visits"
        in api.load(path).data["transforms"]["customer_features"]["sql"]
    )


def test_tab_in_sql_block_does_not_hide_a_later_syntax_error() -> None:
    path = LOADER_DATA / "tab_in_sql_then_syntax_error.yaml"
    found = load_error(path)
    assert found.code == "MLS001"
    assert where(found) == position(path.read_text(), "{project.name}-scoring}")
    assert found.hint is not None and 'quote the value ("${...}")' in found.hint


# --- syntax ---------------------------------------------------------------------------------------


def test_unquoted_reference_in_flow_mapping_explains_quoting() -> None:
    path = LOADER_DATA / "unquoted_flow_reference.yaml"
    found = load_error(path)
    assert found.code == "MLS001"
    assert found.message.startswith("YAML syntax error: ")
    assert where(found) == position(path.read_text(), "{workspace.key_vault}, name")
    assert found.hint is not None
    assert 'quote the value ("${...}")' in found.hint and "flow collection" in found.hint


def test_unquoted_reference_in_flow_sequence_explains_quoting(validate: Validate) -> None:
    text = contract_with(("inputs: [customers, web_logs]", "inputs: [${var.first}, web_logs]"))
    checked = validate(text)
    found = checked.only("MLS001", "did not find expected ',' or ']'", "{var.first}")
    assert found.hint is not None and "quote the value" in found.hint


def test_unquoted_reference_in_block_style_needs_no_quotes() -> None:
    # The contract writes `subscription_id: ${var.subscription_id}` unquoted in block style.
    assert "  subscription_id: ${var.subscription_id}\n" in CONTRACT
    assert parse_spec(CONTRACT).data["workspace"]["subscription_id"] == "${var.subscription_id}"


def test_syntax_error_without_reference_has_no_quoting_hint() -> None:
    found = load_error('apiVersion: mlspec/v1\nproject:\n  name: "churn\n')
    assert found.code == "MLS001"
    assert "found unexpected end of stream" in found.message
    assert found.hint is None


@pytest.mark.parametrize("name", ["empty.yaml", "comments_only.yaml"])
def test_empty_spec_is_rejected(name: str) -> None:
    found = load_error(LOADER_DATA / name)
    assert found.code == "MLS008"
    assert found.message == "the spec is empty"
    assert where(found) == (1, 1)
    assert found.hint is not None and "mlspec init" in found.hint


@pytest.mark.parametrize(("text", "at"), [("- a\n- b\n", (1, 1)), ("# a note\njust text\n", (2, 1))])
def test_top_level_that_is_not_a_mapping_is_rejected(text: str, at: tuple[int, int]) -> None:
    found = load_error(text)
    assert found.code == "MLS008"
    assert "top level must be a mapping" in found.message
    assert where(found) == at


def test_top_level_list_file_is_rejected() -> None:
    found = load_error(LOADER_DATA / "top_level_list.yaml")
    assert found.code == "MLS008"
    assert where(found) == (1, 1)


def test_multiple_documents_are_rejected_at_the_second() -> None:
    path = LOADER_DATA / "multi_document.yaml"
    found = load_error(path)
    assert found.code == "MLS001"
    assert "expected a single document" in found.message
    assert where(found) == position(path.read_text(), "---")


def test_invalid_date_is_reported_at_the_value(validate: Validate) -> None:
    text = contract_with(("  description: Predict customer churn", "  description: 2024-02-30"))
    found = validate(text).only("MLS001", "'2024-02-30' is not a valid timestamp", "2024-02-30")
    assert found.hint is not None and "quote" in found.hint


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0x_", "'0x_' is not a valid int"),
        ("!!float abc", "'abc' is not a valid float"),
        ("!!bool maybe", "'maybe' is not a valid bool"),
    ],
)
def test_scalars_yaml_cannot_build_are_reported_at_the_value(value: str, message: str) -> None:
    text = f"apiVersion: mlspec/v1\nproject:\n  name: {value}\n"
    found = load_error(text)
    assert found.code == "MLS001"
    assert found.message == message
    assert where(found) == (3, 9)


def test_number_too_long_to_print_is_rejected() -> None:
    text = "apiVersion: mlspec/v1\ndeployment:\n  endpoint: 0x" + "F" * 4000 + "\n"
    found = load_error(text)
    assert found.code == "MLS001"
    assert found.message == "the number is too large"
    assert where(found) == (3, 13)


def test_unknown_tag_is_rejected_at_the_tag() -> None:
    found = load_error("apiVersion: mlspec/v1\nproject:\n  name: !vault churn\n")
    assert found.code == "MLS001"
    assert "could not determine a constructor for the tag '!vault'" in found.message
    assert where(found) == (3, 9)


def test_python_tags_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    found = load_error(f'apiVersion: mlspec/v1\nx: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert found.code == "MLS001"
    assert where(found) == (2, 4)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "code_point", "at"), [("a: 1\nb: é\x08x\n", "#x0008", (2, 5)), ("a: \x7f\n", "#x007f", (1, 4))]
)
def test_control_character_is_reported_at_its_character_column(
    text: str, code_point: str, at: tuple[int, int]
) -> None:
    found = load_error(text)
    assert found.code == "MLS001"
    assert (
        found.message
        == f"YAML syntax error: unacceptable character {code_point}: control characters are not allowed"
    )
    assert where(found) == at


def test_control_character_escaped_in_double_quotes_is_accepted() -> None:
    assert parse_spec('a: "bell\\x07"\n').data == {"a": "bell\x07"}


# --- nesting --------------------------------------------------------------------------------------


def nested_description(depth: int) -> str:
    return contract_with(
        ("  description: Predict customer churn", "  description: " + "[" * depth + "]" * depth)
    )


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH, 500, 5_000])
def test_deep_nesting_is_reported_not_crashed(validate: Validate, depth: int) -> None:
    text = nested_description(depth)
    # The root mapping is level 1 and project level 2: the n-th "[" opens level n + 2, so the
    # one reported (the first past the limit) follows MAX_NESTING_DEPTH - 2 others.
    validate(text).only(
        "MLS001", "nested too deeply", "[", after="description: " + "[" * (MAX_NESTING_DEPTH - 2)
    )


def test_nesting_within_limit_is_validated(validate: Validate) -> None:
    depth = MAX_NESTING_DEPTH - 6  # model.training.params.grid sits five levels down
    text = contract_with(
        (
            "params: {n_estimators: 200, max_depth: 3}",
            "params: {n_estimators: 200, max_depth: 3, grid: " + "[" * depth + "]" * depth + "}",
        )
    )
    validate(text).assert_clean()


def test_nesting_that_would_overflow_the_c_stack_is_reported(tmp_path: Path) -> None:
    # libyaml composes recursively in C; 200 000 levels used to kill the process (SIGSEGV).
    path = tmp_path / "mlproject.yaml"
    path.write_text(
        "apiVersion: mlspec/v1\nproject: " + "[" * 200_000 + "]" * 200_000 + "\n", encoding="utf-8"
    )
    script = textwrap.dedent(
        f"""
        from mlspec import api
        result = api.validate_file({str(path)!r}, environ={{}})
        print([(d.code, d.location.line) for d in result.diagnostics])
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[('MLS001', 2)]"


# --- reading files and locating paths -------------------------------------------------------------


def test_missing_file_is_reported_as_mls000(tmp_path: Path) -> None:
    result = api.validate_file(tmp_path / "nope.yaml", environ={})
    assert [d.code for d in result.diagnostics] == ["MLS000"]
    assert "cannot read the spec" in result.diagnostics[0].message


def test_folder_path_reads_its_mlproject_yaml(tmp_path: Path) -> None:
    (tmp_path / "mlproject.yaml").write_text(CONTRACT, encoding="utf-8")
    document = api.load(tmp_path)
    assert document.file == str(tmp_path / "mlproject.yaml")
    assert document.data["project"]["name"] == "churn"


def test_locate_points_at_value_or_key_and_falls_back_to_deepest_ancestor() -> None:
    document = parse_spec(CONTRACT, "spec.yaml")
    value = document.locate(("deployment", "replicas", "min"))
    key = document.locate(("deployment", "replicas", "min"), at_key=True)
    assert (value.line, value.column) == position(CONTRACT, "2, max: 10")
    assert (key.line, key.column) == position(CONTRACT, "min: 2, max: 10")
    item = document.locate(("transforms", "customer_features", "inputs", 1))
    assert (item.line, item.column) == position(CONTRACT, "web_logs]")
    missing = document.locate(("deployment", "replicas", "nope", 3))
    assert (missing.line, missing.column) == position(CONTRACT, "{min: 2, max: 10")
