"""The project ``bench/scale.py`` measures: a copy of ``projects/churn`` grown by N chained SQL transforms.

Each extra transform reads the one before it (the first reads ``customer_features``), so every one
adds a Synapse notebook and an activity in the project's pipeline that depends on the previous
activity. Two shapes:

- ``notebooks`` (default): every output in churn's ``curated`` container, covered by the grants
  churn already has — 1 resource per transform, the shape issue 10's first table was measured on
  (1,000 transforms ≈ 1,050 resources);
- ``grants``: each output is its own lake container, so each transform also brings the Synapse
  workspace's write grant on it and a grant letting the BI analysts' group read it — 3 resources
  per transform, with the access renderer's cross-service work growing too.

The rest of the spec (sources, model, serving, monitoring, the Power BI report) is churn's,
unchanged, so the fixed part of the resource graph is a real project's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHURN = ROOT / "projects" / "churn"
CHAIN_START = "customer_features"
SHAPES = ("notebooks", "grants")
BI_ANALYSTS = "00000000-0000-0000-0000-000000000003"
"""The group churn already lets read ``customer_features`` (its Power BI readers)."""
_GENERATED = ("build", ".mlspec")
"""What a previous build or apply left in churn's folder: not part of the project."""


def transform_name(index: int) -> str:
    return f"chain_{index:05d}"


def container_name(index: int) -> str:
    """Each output has a lake container of its own: grants are per container, so one per transform."""
    return f"chain{index:05d}"


def _transform(index: int, own_container: bool) -> str:
    name = transform_name(index)
    container = container_name(index) if own_container else "curated"
    source = CHAIN_START if index == 0 else transform_name(index - 1)
    return (
        f"  {name}:\n"
        f"    description: Chained step {index} of the scale benchmark\n"
        f"    inputs: [{source}]\n"
        f"    sql: SELECT * FROM {source} WHERE customer_id IS NOT NULL\n"
        f"    output:\n"
        f"      path: abfss://{container}@${{var.lake_account}}.dfs.core.windows.net/churn/{name}/\n"
        f"      format: delta\n"
        f"      mode: overwrite\n"
    )


def _grant(index: int) -> str:
    return (
        f"    - principal: {{group: {BI_ANALYSTS}}}\n"
        f"      role: Storage Blob Data Reader\n"
        f"      scope: {transform_name(index)}\n"
    )


def _insert_before(text: str, marker: str, block: str) -> str:
    """``block`` inserted just before the line ``marker`` (which must occur exactly once)."""
    if text.count(f"\n{marker}\n") != 1:
        raise ValueError(f"churn's spec no longer has exactly one {marker!r} line")
    return text.replace(f"\n{marker}\n", f"\n{block}\n{marker}\n", 1)


def grown_spec(transforms: int, shape: str) -> str:
    """churn's ``mlproject.yaml`` with ``transforms`` chained transforms of ``shape`` (one of :data:`SHAPES`)."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    grants = shape == "grants"
    text = (CHURN / "mlproject.yaml").read_text(encoding="utf-8")
    if transforms == 0:
        return text
    chain = "".join(_transform(i, own_container=grants) for i in range(transforms))
    text = _insert_before(text, "model:", chain)  # the end of the transforms: section
    if grants:
        # access.secrets follows the grants list in churn's spec
        text = _insert_before(text, "  secrets:", "".join(_grant(i) for i in range(transforms)).rstrip("\n"))
    return text


def write_project(folder: Path, transforms: int, shape: str) -> Path:
    """A fresh project folder (churn's files plus the grown spec); returns the spec's path."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(CHURN, folder, ignore=lambda directory, names: [n for n in names if n in _GENERATED])
    spec = folder / "mlproject.yaml"
    spec.write_text(grown_spec(transforms, shape), encoding="utf-8")
    return spec
