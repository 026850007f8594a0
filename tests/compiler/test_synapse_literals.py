"""Spec values in generated code: Python literals, names, markdown spans, templates, Spark types."""

from __future__ import annotations

import ast
import math

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlspec.compiler.synapse import cells
from mlspec.compiler.synapse.literals import markdown_code, python_identifier, python_literal
from mlspec.spec_schema.spark_types import is_spark_type, schema_ddl

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)


@given(st.text())
def test_any_string_becomes_a_literal_of_itself(text: str) -> None:
    assert ast.literal_eval(python_literal(text)) == text


@given(values)
def test_any_spec_value_becomes_a_literal_of_itself(value: object) -> None:
    assert ast.literal_eval(python_literal(value)) == value


@given(st.text())
def test_a_literal_is_one_expression_wherever_it_goes(text: str) -> None:
    tree = ast.parse(f"x = {python_literal(text)}\n")
    [statement] = tree.body
    assert isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)


def test_multi_line_sql_stays_readable() -> None:
    sql = "SELECT a,\n       b\nFROM t\n"
    assert python_literal(sql) == '"""\\\nSELECT a,\n       b\nFROM t\n"""'


@pytest.mark.parametrize(
    "text", ['ends with a quote"', 'has """ inside\n', "back\\slash\n", "carriage\r\nreturn"]
)
def test_text_that_cannot_be_triple_quoted_falls_back_to_repr(text: str) -> None:
    assert python_literal(text) == repr(text)


def test_non_finite_floats_are_expressions() -> None:
    namespace: dict[str, object] = {}
    exec(f"values = {python_literal([math.inf, -math.inf])}", namespace)
    assert namespace["values"] == [math.inf, -math.inf]
    assert python_literal(math.nan) == 'float("nan")'


def test_other_types_are_refused() -> None:
    with pytest.raises(TypeError):
        python_literal(object())


@pytest.mark.parametrize("name", ["environment", "run_date", "_x1"])
def test_identifiers(name: str) -> None:
    assert python_identifier(name) == name


@pytest.mark.parametrize("name", ["class", "a b", "a.b", "1x", "", "x\n", 3])
def test_not_identifiers(name: object) -> None:
    with pytest.raises(ValueError):
        python_identifier(name)


def test_markdown_code_spans() -> None:
    assert markdown_code("customers") == "`customers`"
    assert markdown_code("a`b") == "``a`b``"
    assert markdown_code("`x") == "`` `x ``"
    assert markdown_code("two\nlines") == "`two lines`"


def test_templates_refuse_values_printed_without_a_filter() -> None:
    environment = cells._environment()
    with pytest.raises(cells.TemplateValueError):
        environment.from_string("x = {{ value }}").render(value="1; import os")
    assert environment.from_string("x = {{ value|py }}").render(value="1; import os") == 'x = "1; import os"'


def test_templates_refuse_undefined_values() -> None:
    with pytest.raises(jinja2.UndefinedError):
        cells.render_template("write.py.j2")


def test_source_lines() -> None:
    assert cells.source_lines("a\nb\n\n") == ["a\n", "b"]
    assert cells.source_lines("one") == ["one"]
    assert cells.source_lines("s = 'x\u2028y'\nz") == ["s = 'x\u2028y'\n", "z"]  # split on \n only


@pytest.mark.parametrize(
    "kind",
    [
        "string",
        "INT",
        "bigint",
        "decimal(10,2)",
        "decimal( 10 , 2 )",
        "varchar(20)",
        "timestamp",
        "array<string>",
        "map<string,array<int>>",
        "struct<a:int,b:string>",
        "struct<`odd name`:double>",
        "array<struct<a:int,b:map<string,date>>>",
    ],
)
def test_spark_types(kind: str) -> None:
    assert is_spark_type(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "",
        "strin",
        "string, extra int",
        "int)",
        "decimal(10,",
        "array<>",
        "map<string>",
        "array<int,int>",
        "struct<a:int",
        "int -- comment",
        "string`",
    ],
)
def test_not_spark_types(kind: str) -> None:
    assert not is_spark_type(kind)


def test_schema_ddl_quotes_column_names() -> None:
    assert schema_ddl({"id": "string", "we`ird": "int"}) == "`id` string, `we``ird` int"
