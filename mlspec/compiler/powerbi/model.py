"""The semantic model of one report as rendered: the spec's report model plus how Power BI reads it.

Tables, columns, measures and how visuals bind to them are decided from the spec alone, in
:mod:`mlspec.spec_schema.report_model`; the check stage reports its problems (MLS660-667) before
any renderer runs, and a build with errors stops there, so this module adds only what rendering
needs: each table's partition query (written from its final column list, see :mod:`.mquery`; the
partition columns of a partitioned Parquet/CSV/JSON output read from the folder names) and one
lake-endpoint parameter per storage account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from mlspec.compiler.artifacts import RenderContext
from mlspec.compiler.powerbi import mquery
from mlspec.spec_schema.models import MLProject, Report
from mlspec.spec_schema.report_columns import PREDICTION_FIXED, PREDICTIONS_TABLE
from mlspec.spec_schema.report_model import Field, ReportProblem, Table, report_model
from mlspec.spec_schema.report_relationships import Relationship

_LINEAGE = uuid.UUID("6f1c1d0e-58a4-4c52-9a7e-6d6c7370656c")


@dataclass
class SemanticModel:
    report: Report
    tables: dict[str, Table]
    parameters: dict[str, str]
    """Lake endpoint parameter name → its M expression."""
    queries: dict[str, str] = field(default_factory=dict)
    """Table name → its partition query (M)."""
    bindings: dict[tuple[int, int], dict[str, list[Field]]] = field(default_factory=dict)
    relationships: list[Relationship] = field(default_factory=list)
    problems: list[ReportProblem] = field(default_factory=list)
    """What the check stage reported for this report (never emitted again here)."""


def lineage_tag(*parts: str) -> str:
    """A stable lineage tag (Power BI tracks objects across renames by it)."""
    return str(uuid.uuid5(_LINEAGE, "\x00".join(parts)))


def build_model(ctx: RenderContext, index: int, report: Report) -> SemanticModel:
    decided = report_model(ctx.model, index, report)
    model = SemanticModel(
        report,
        decided.tables,
        {},
        bindings=decided.bindings,
        relationships=decided.relationships,
        problems=decided.problems,
    )
    for table in decided.tables.values():
        url = _lake_url(ctx.model, table.name)
        account, _ = mquery.split_url(url)  # lake URLs are checked before rendering (MLS412)
        model.parameters[mquery.lake_parameter(account)] = mquery.parameter_expression(account)
        model.queries[table.name] = _query(ctx.model, table, url)
    return model


def _lake_url(spec: MLProject, table: str) -> str:
    if table == PREDICTIONS_TABLE:
        if spec.deployment is None or spec.deployment.log_predictions is None:
            raise ValueError("report table 'predictions' without deployment.log_predictions (MLS305)")
        return spec.deployment.log_predictions.path
    if table in spec.sources:
        return spec.sources[table].path
    return spec.transforms[table].output.path


def _query(spec: MLProject, table: Table, url: str) -> str:
    columns = [(c.name, c.data_type) for c in table.columns]
    if table.name == PREDICTIONS_TABLE:
        fixed = {c for c, _ in PREDICTION_FIXED} | {"prediction"}
        return mquery.predictions_query(url, columns, [c for c, _ in columns if c not in fixed])
    if table.name in spec.sources:
        source = spec.sources[table.name]
        header = str(source.options.get("header", "false")).lower() == "true"
        glob = source.glob or ""
        suffix = glob[1:] if glob.startswith("*.") and "*" not in glob[1:] else None
        return mquery.table_query(url, source.format, columns, header=header, suffix=suffix)
    output = spec.transforms[table.name].output
    partitions = table.partition_columns if output.format != "delta" else []
    return mquery.table_query(url, output.format, columns, header=True, suffix=None, partitions=partitions)
