"""The semantic model's files: ``definition.pbism`` and the TMDL ``definition/`` folder."""

from __future__ import annotations

from mlspec.compiler.powerbi.model import SemanticModel, lineage_tag
from mlspec.compiler.powerbi.tmdl import Document, name, text
from mlspec.spec_schema.report_model import NUMERIC, Table

PBISM_SCHEMA = "https://developer.microsoft.com/json-schemas/fabric/item/semanticModel/definitionProperties/1.0.0/schema.json"
COMPATIBILITY_LEVEL = 1567
CULTURE = "en-US"


def pbism() -> dict[str, object]:
    return {"$schema": PBISM_SCHEMA, "version": "4.0", "settings": {}}


def database_tmdl(model_name: str) -> str:
    doc = Document()
    doc.line(0, f"database {name(model_name)}")
    doc.property(1, "compatibilityLevel", str(COMPATIBILITY_LEVEL))
    return doc.render()


def model_tmdl(model: SemanticModel) -> str:
    doc = Document()
    doc.line(0, "model Model")
    doc.property(1, "culture", CULTURE)
    doc.property(1, "defaultPowerBIDataSourceVersion", "powerBI_V3")
    doc.property(1, "sourceQueryCulture", CULTURE)
    doc.line(1, "dataAccessOptions")
    doc.line(2, "legacyRedirects")
    doc.line(2, "returnErrorValuesAsNull")
    doc.blank()
    for table in model.tables:
        doc.line(0, f"ref table {name(table)}")
    return doc.render()


def expressions_tmdl(model: SemanticModel) -> str:
    doc = Document()
    for parameter, expression in sorted(model.parameters.items()):
        doc.line(0, f"expression {name(parameter)} =")
        doc.expression(2, expression)
        doc.property(1, "lineageTag", lineage_tag(model.report.name, "expression", parameter))
        doc.blank()
        doc.line(1, "annotation PBI_ResultType = Text")
        doc.blank()
    return doc.render()


def relationships_tmdl(model: SemanticModel) -> str | None:
    """``relationships.tmdl``: one ``relationship`` per related pair of tables, or ``None`` when none.

    Names are GUIDs, as Power BI Desktop writes them, derived from the report and both ends (a rebuild
    gives the same names). Many-to-one filtering one way is TMDL's default and written as such; a
    one-to-one relationship filters both ways.
    """
    if not model.relationships:
        return None
    doc = Document()
    for relationship in model.relationships:
        ends = (
            relationship.from_table,
            relationship.from_column,
            relationship.to_table,
            relationship.to_column,
        )
        doc.line(0, f"relationship {lineage_tag(model.report.name, 'relationship', *ends)}")
        doc.property(1, "fromColumn", f"{name(relationship.from_table)}.{name(relationship.from_column)}")
        doc.property(1, "toColumn", f"{name(relationship.to_table)}.{name(relationship.to_column)}")
        if relationship.one_to_one:
            doc.property(1, "fromCardinality", "one")
            doc.property(1, "crossFilteringBehavior", "bothDirections")
        doc.blank()
    return doc.render()


def table_tmdl(model: SemanticModel, table: Table) -> str:
    report = model.report.name
    doc = Document()
    doc.line(0, f"table {name(table.name)}")
    doc.property(1, "lineageTag", lineage_tag(report, "table", table.name))
    doc.blank()
    for measure in table.measures:
        if measure.generated:
            doc.description(
                1, f"mlspec placeholder: {measure.name} is not declared in the report's measures."
            )
        elif measure.shorthand is not None:
            doc.description(1, f"mlspec: {measure.shorthand} in the report's visuals")
        doc.line(1, f"measure {name(measure.name)} =")
        doc.expression(3, measure.expression)
        if measure.format is not None:
            doc.property(2, "formatString", text(measure.format))
        doc.property(2, "lineageTag", lineage_tag(report, "measure", table.name, measure.name))
        doc.blank()
    for column in table.columns:
        doc.line(1, f"column {name(column.name)}")
        doc.property(2, "dataType", column.data_type)
        doc.property(2, "lineageTag", lineage_tag(report, "column", table.name, column.name))
        doc.property(2, "summarizeBy", "sum" if column.data_type in NUMERIC else "none")
        doc.property(2, "sourceColumn", text(column.name))
        doc.blank()
        doc.line(2, "annotation SummarizationSetBy = Automatic")
        doc.blank()
    doc.line(1, f"partition {name(table.name)} = m")
    doc.property(2, "mode", "import")
    doc.line(2, "source =")
    doc.expression(3, model.queries[table.name])
    doc.blank()
    doc.line(1, "annotation PBI_ResultType = Table")
    return doc.render()
