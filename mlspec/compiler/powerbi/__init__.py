"""Power BI: each report compiled into a Power BI Project (PBIP) under ``powerbi/<Name>/``.

    <Name>.pbip
    <Name>.SemanticModel/definition.pbism
    <Name>.SemanticModel/definition/{database,model,expressions}.tmdl, tables/<table>.tmdl,
        relationships.tmdl (when the report's tables are related)
    <Name>.Report/definition.pbir
    <Name>.Report/definition/{version,report}.json, pages/pages.json,
        pages/<page>/page.json, pages/<page>/visuals/<visual>/visual.json

One resource, ``powerbi.report.<Name>`` (provider type ``powerbi:pbip``), carries all the files, the
``.pbip`` first. The semantic model imports each report table from its lake folder (M partitions, see
:mod:`.mquery`; one lake-endpoint parameter per storage account in ``expressions.tmdl``); its columns
and types come from the spec (:mod:`mlspec.spec_schema.report_columns`), its measures from
``report.measures`` and the visuals' aggregate shorthands, its relationships from the spec or a shared
key column (:mod:`mlspec.spec_schema.report_relationships`); how visuals bind to them -- and what happens to an undeclared measure -- is in
:mod:`mlspec.spec_schema.report_model`, which the check stage reports from (MLS660-667) before this
package renders. TMDL is written line by line with every value quoted (:mod:`.tmdl`); every JSON
file names its published ``$schema``. A report name becomes a folder name and must be a plain file
name (MLS664).
"""

from __future__ import annotations

from mlspec.compiler.powerbi.checks import check
from mlspec.compiler.powerbi.project import render

__all__ = ["check", "render"]
