"""Write deterministic sample data for every source of the diabetes project into a local lake.

    python data/generate.py --lake .mlspec/lake [--account contosohealthdev]

``mlspec run`` runs it the same way, with ``MLSPEC_SOURCES`` holding each source's local folder
(``{"baseline_visits": {"url": ..., "path": ..., "format": "csv"}, ...}``); those folders are
used when it is set. Otherwise ``abfss://<container>@<account>.dfs.core.windows.net/<path>``
maps to ``<lake>/<account>/<container>/<path>``. The 442 patients of scikit-learn's bundled
diabetes dataset (Efron et al., 2004; no download) are laid out the way a clinic network
would deliver them:

- ``clinical/baseline/visits/``   CSV (pandas): demographics and vitals at the baseline visit
- ``clinical/labs/results/``      JSON lines from two laboratories, one result per analyte:
  LAB-EAST reports cholesterol and glucose in mmol/L, LAB-NORTH in mg/dL; some results
  were re-run (an earlier value is superseded) and some were cancelled (value null)
- ``clinical/outcomes/``          CSV (pandas): disease progression score one year after baseline

The ``lab_panel`` transform undoes all of that (units, re-runs, cancellations), so the
joined ``patient_features`` carry exactly the dataset's original values.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_ACCOUNT = "contosohealthdev"  # the dev environment's lake_account
SEED = 7

# --- where each source lives (container, path) — keep in sync with mlproject.yaml ----------
VISITS_PATH = ("clinical", "baseline/visits")
LABS_PATH = ("clinical", "labs/results")
OUTCOMES_PATH = ("clinical", "outcomes")

# dataset column -> (analyte code, unit at LAB-NORTH)
ANALYTES = {
    "s1": ("TC", "mg/dL"),  # total serum cholesterol
    "s2": ("LDL", "mg/dL"),  # low-density lipoproteins
    "s3": ("HDL", "mg/dL"),  # high-density lipoproteins
    "s4": ("TCH", "ratio"),  # total cholesterol / HDL
    "s5": ("LTG", "log"),  # log of serum triglycerides
    "s6": ("GLU", "mg/dL"),  # blood sugar
}
MMOL_PER_MG_DL = {"TC": 1 / 38.67, "LDL": 1 / 38.67, "HDL": 1 / 38.67, "GLU": 1 / 18.016}
CLINICS = {"clinic-north": "LAB-NORTH", "clinic-central": "LAB-NORTH", "clinic-south": "LAB-EAST"}


SOURCES_VARIABLE = "MLSPEC_SOURCES"


def source_folders(lake: Path | None, account: str) -> dict[str, Path]:
    """Each source's local folder: from ``MLSPEC_SOURCES`` when set, else below ``lake``/``account``."""
    expected = {
        "baseline_visits": (VISITS_PATH, "csv"),
        "lab_results": (LABS_PATH, "json"),
        "outcomes": (OUTCOMES_PATH, "csv"),
    }
    given = os.environ.get(SOURCES_VARIABLE)
    if given:
        sources = json.loads(given)
        missing = sorted(set(expected) - set(sources))
        if missing:
            raise SystemExit(
                f"{SOURCES_VARIABLE} has no source {', '.join(missing)}: this generator writes those"
            )
        for name, (_, format_) in expected.items():
            if sources[name].get("format") != format_:
                raise SystemExit(
                    f"source {name} is {sources[name].get('format')!r} in the spec; this writes {format_}"
                )
        folders = {name: Path(sources[name]["path"]) for name in expected}
    elif lake is None:
        raise SystemExit(f"give --lake, or set {SOURCES_VARIABLE}")
    else:
        folders = {
            name: lake / account / location[0] / location[1] for name, (location, _) in expected.items()
        }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(folders: dict[str, Path]) -> dict[str, int]:
    from sklearn.datasets import load_diabetes  # bundled with scikit-learn: no download

    data = load_diabetes(scaled=False)
    x: np.ndarray = data.data
    y: np.ndarray = data.target
    columns = list(data.feature_names)
    rng = np.random.default_rng(SEED)
    n = len(y)
    ids = [f"P{10000 + i}" for i in range(n)]
    clinic_names = list(CLINICS)
    clinics = rng.choice(clinic_names, size=n, p=[0.4, 0.25, 0.35])
    first = dt.date(2023, 1, 9)
    visit_dates = [first + dt.timedelta(days=int(d)) for d in rng.integers(0, 330, size=n)]

    frame = pd.DataFrame(x, columns=columns)
    visits = pd.DataFrame(
        {
            "patient_id": ids,
            "clinic": clinics,
            "visit_date": [d.isoformat() for d in visit_dates],
            "age": frame["age"].astype(int),
            # the dataset codes sex as 1/2; the mapping is a convention
            "sex": np.where(frame["sex"] == 1, "F", "M"),
            "bmi": frame["bmi"].map("{:.1f}".format),
            "bp": frame["bp"].map("{:.2f}".format),
        }
    )
    assessed = [visit_dates[i] + dt.timedelta(days=365 + int(rng.integers(-10, 11))) for i in range(n)]
    outcomes = pd.DataFrame(
        {
            "patient_id": ids,
            "assessed_on": [d.isoformat() for d in assessed],
            "progression": [f"{value:.1f}" for value in y],
        }
    )
    visits.to_csv(folders["baseline_visits"] / "baseline_visits_2023.csv", index=False, lineterminator="\n")
    outcomes.to_csv(folders["outcomes"] / "progression_2024.csv", index=False, lineterminator="\n")

    by_lab: dict[str, list[dict[str, Any]]] = {lab: [] for lab in sorted(set(CLINICS.values()))}
    result_no = 0
    for i in range(n):
        lab = CLINICS[str(clinics[i])]
        drawn = dt.datetime.combine(visit_dates[i], dt.time(8), tzinfo=dt.UTC) + dt.timedelta(
            minutes=int(rng.integers(0, 180))
        )
        rerun = str(rng.choice([code for code, _ in ANALYTES.values()])) if rng.random() < 0.10 else None
        for column, (code, unit) in ANALYTES.items():
            value = float(x[i][columns.index(column)])
            records = []
            if code == rerun:  # a first run that the lab later repeated: superseded, not wrong-signed
                records.append((drawn, value * float(rng.uniform(0.85, 1.15)), "final"))
                records.append((drawn + dt.timedelta(hours=int(rng.integers(2, 30))), value, "final"))
            else:
                records.append((drawn, value, "final"))
            if rng.random() < 0.03:  # a duplicate order cancelled by the lab after the real result
                records.append((drawn + dt.timedelta(hours=1), None, "cancelled"))
            for collected, reported, status in records:
                result_no += 1
                shown_unit, shown = unit, reported
                if lab == "LAB-EAST" and code in MMOL_PER_MG_DL:
                    shown_unit = "mmol/L"
                    shown = None if reported is None else round(reported * MMOL_PER_MG_DL[code], 3)
                elif shown is not None:
                    shown = round(shown, 4)
                by_lab[lab].append(
                    {
                        "result_id": f"R{result_no:07d}",
                        "patient_id": ids[i],
                        "collected_at": _iso(collected),
                        "analyte": code,
                        "value": shown,
                        "unit": shown_unit,
                        "status": status,
                        "lab": {
                            "site": lab,
                            "instrument": "cobas-c311" if lab == "LAB-NORTH" else "architect-ci4100",
                        },
                    }
                )
    folder = folders["lab_results"]
    for lab, records in by_lab.items():
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        (folder / f"{lab.lower()}_2023.json").write_text(text)
    return {"baseline_visits": n, "lab_results": result_no, "outcomes": n}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lake", type=Path, help=f"local lake folder (abfss paths map below it; {SOURCES_VARIABLE} wins)"
    )
    parser.add_argument(
        "--account", default=DEFAULT_ACCOUNT, help=f"storage account name (default {DEFAULT_ACCOUNT})"
    )
    args = parser.parse_args(argv)
    for source, rows in generate(source_folders(args.lake, args.account)).items():
        print(f"{source}: {rows} rows")


if __name__ == "__main__":
    main()
