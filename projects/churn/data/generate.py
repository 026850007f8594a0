"""Write deterministic sample data for every source of the churn project into a local lake.

    python data/generate.py --lake .mlspec/lake [--account contosolakedev]

``mlspec run`` runs it the same way, with ``MLSPEC_SOURCES`` holding each source's local folder
(``{"customers": {"url": ..., "path": ..., "format": "csv"}, ...}``); those folders are used
when it is set. Otherwise ``abfss://<container>@<account>.dfs.core.windows.net/<path>`` maps to
``<lake>/<account>/<container>/<path>``, so the four sources land in:

- ``raw/crm/customers/``        CSV with a header (schema declared in mlproject.yaml), by pandas
- ``raw/web/logs/dt=YYYY-MM-DD/`` JSON lines, nested (device, http), anonymous visits included
- ``raw/billing/subscriptions/`` Parquet, one row per customer, by pyarrow
- ``raw/billing/invoices/``      a Delta table in two commits (history, then the latest month
  appended), by deltalake (delta-rs)

Churn is drawn from a logistic model of the same behaviour the transforms aggregate
(contract, tenure, charges, support and cancel-page visits, late and failed payments),
so a gradient-boosted model on ``customer_features`` clears the spec's roc_auc gate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import write_deltalake

DEFAULT_ACCOUNT = "contosolakedev"  # the dev environment's lake_account
SEED = 42
CUSTOMERS = 2000
AS_OF = dt.date(2024, 6, 30)  # date of the CRM export
LOG_DAYS = 60

# --- where each source lives (container, path) — keep in sync with mlproject.yaml ----------
CUSTOMERS_PATH = ("raw", "crm/customers")
WEB_LOGS_PATH = ("raw", "web/logs")
SUBSCRIPTIONS_PATH = ("raw", "billing/subscriptions")
INVOICES_PATH = ("raw", "billing/invoices")


SOURCES_VARIABLE = "MLSPEC_SOURCES"


def source_folders(lake: Path | None, account: str) -> dict[str, Path]:
    """Each source's local folder: from ``MLSPEC_SOURCES`` when set, else below ``lake``/``account``."""
    expected = {
        "customers": (CUSTOMERS_PATH, "csv"),
        "web_logs": (WEB_LOGS_PATH, "json"),
        "subscriptions": (SUBSCRIPTIONS_PATH, "parquet"),
        "invoices": (INVOICES_PATH, "delta"),
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


# --- the business data ------------------------------------------------------------------

CUSTOMER_SCHEMA = {
    "customer_id": "string",
    "signup_date": "date",
    "region": "string",
    "contract": "string",
    "tenure_months": "int",
    "monthly_charges": "double",
    "senior_citizen": "boolean",
    "churned": "boolean",
}
# Arrow types of the Spark SQL types the spec declares (timestamps are UTC instants).
SUBSCRIPTION_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("plan", pa.string()),
        ("payment_method", pa.string()),
        ("paperless_billing", pa.bool_()),
        ("auto_renew", pa.bool_()),
        ("num_addons", pa.int32()),
        ("started_at", pa.timestamp("us", tz="UTC")),
    ]
)
INVOICE_SCHEMA = pa.schema(
    [
        ("invoice_id", pa.string()),
        ("customer_id", pa.string()),
        ("billing_month", pa.string()),
        ("due_date", pa.date32()),
        ("amount", pa.float64()),
        ("status", pa.string()),
    ]
)
DEVICE_OS = {"desktop": "Windows", "mobile": "Android", "tablet": "iPadOS"}
PAGES = ["/home", "/pricing", "/account", "/billing", "/offers", "/support", "/support/contact"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


@dataclass(frozen=True)
class Population:
    """Every customer's attributes, one array element per customer."""

    ids: list[str]
    contract: np.ndarray
    region: np.ndarray
    tenure: np.ndarray
    plan: np.ndarray
    addons: np.ndarray
    charges: np.ndarray
    senior: np.ndarray
    paperless: np.ndarray
    auto_renew: np.ndarray
    payment: np.ndarray
    unhappy: np.ndarray  # latent dissatisfaction: support traffic, payment trouble and churn
    churned: np.ndarray


def draw_population(rng: np.random.Generator, n: int = CUSTOMERS) -> Population:
    contract = rng.choice(["month-to-month", "one-year", "two-year"], size=n, p=[0.55, 0.25, 0.20])
    region = rng.choice(["north", "south", "east", "west"], size=n, p=[0.3, 0.25, 0.25, 0.2])
    long_contract = contract != "month-to-month"
    tenure = np.clip(rng.gamma(np.where(long_contract, 3.0, 1.4), 12.0), 1, 96).astype(int)
    plan = rng.choice(["basic", "standard", "premium"], size=n, p=[0.4, 0.4, 0.2])
    base_fee = np.select([plan == "basic", plan == "standard"], [29.0, 59.0], 89.0)
    addons = rng.poisson(np.where(plan == "premium", 2.5, 1.0)).clip(0, 6)
    charges = np.round(base_fee + addons * 7.5 + rng.normal(0, 4, n), 2)
    senior = rng.random(n) < 0.16
    paperless = rng.random(n) < 0.6
    auto_renew = rng.random(n) < np.where(long_contract, 0.85, 0.35)
    payment = rng.choice(["card", "bank_transfer", "invoice", "paypal"], size=n, p=[0.45, 0.25, 0.15, 0.15])
    unhappy = rng.normal(0, 1, n)
    score = (
        -1.6
        + 1.5 * (contract == "month-to-month")
        - 0.035 * tenure
        + 0.018 * (charges - 60)
        + 0.4 * senior
        - 0.25 * addons
        + 0.9 * unhappy
        - 0.5 * auto_renew
    )
    churned = rng.random(n) < _sigmoid(score)
    ids = [f"C{100000 + i}" for i in range(n)]
    return Population(
        ids,
        contract,
        region,
        tenure,
        plan,
        addons,
        charges,
        senior,
        paperless,
        auto_renew,
        payment,
        unhappy,
        churned,
    )


def write_customers(folder: Path, people: Population, rng: np.random.Generator) -> int:
    signup = [
        (AS_OF - dt.timedelta(days=int(people.tenure[i]) * 30 + int(rng.integers(0, 28)))).isoformat()
        for i in range(len(people.ids))
    ]
    frame = pd.DataFrame(
        {
            "customer_id": people.ids,
            "signup_date": signup,
            "region": people.region,
            "contract": people.contract,
            "tenure_months": people.tenure,
            "monthly_charges": people.charges,
            # lowercase, as exports from most systems write them (Spark reads either)
            "senior_citizen": np.where(people.senior, "true", "false"),
            "churned": np.where(people.churned, "true", "false"),
        },
        columns=list(CUSTOMER_SCHEMA),
    )
    target = folder / f"customers_{AS_OF:%Y%m%d}.csv"
    frame.to_csv(target, index=False, float_format="%.2f", lineterminator="\n")
    return len(frame)


def write_subscriptions(folder: Path, people: Population, rng: np.random.Generator) -> int:
    rows = []
    for i, customer_id in enumerate(people.ids):
        started = dt.datetime.combine(AS_OF, dt.time(9), tzinfo=dt.UTC) - dt.timedelta(
            days=int(people.tenure[i]) * 30, minutes=int(rng.integers(0, 600))
        )
        rows.append(
            {
                "customer_id": customer_id,
                "plan": str(people.plan[i]),
                "payment_method": str(people.payment[i]),
                "paperless_billing": bool(people.paperless[i]),
                "auto_renew": bool(people.auto_renew[i]),
                "num_addons": int(people.addons[i]),
                "started_at": started,
            }
        )
    pq.write_table(pa.Table.from_pylist(rows, schema=SUBSCRIPTION_SCHEMA), folder / "part-00000.parquet")
    return len(rows)


def write_invoices(folder: Path, people: Population, rng: np.random.Generator) -> int:
    """The year's invoices as a Delta table: the history in one commit, the latest month appended."""
    late_p = _sigmoid(-2.6 + 0.6 * people.unhappy + 0.8 * (people.payment == "invoice"))
    failed_p = _sigmoid(-3.6 + 0.5 * people.unhappy + 0.9 * (people.payment == "card") * ~people.auto_renew)
    history: list[dict[str, Any]] = []
    latest: list[dict[str, Any]] = []
    months = [(AS_OF.year * 12 + AS_OF.month - 1 - k) for k in range(11, -1, -1)]
    for i, customer_id in enumerate(people.ids):
        for m in months[-min(int(people.tenure[i]), 12) :]:
            year, month = divmod(m, 12)
            status = "paid"
            r = rng.random()
            if r < failed_p[i]:
                status = "failed"
            elif r < failed_p[i] + late_p[i]:
                status = "late"
            row = {
                "invoice_id": f"INV-{year}{month + 1:02d}-{customer_id[1:]}",
                "customer_id": customer_id,
                "billing_month": f"{year}-{month + 1:02d}",
                "due_date": dt.date(year, month + 1, 15),
                "amount": round(float(people.charges[i]) + float(rng.normal(0, 1.5)), 2),
                "status": status,
            }
            (latest if m == months[-1] else history).append(row)
    # A rerun starts the table afresh: appending to an earlier run's table would double the history.
    shutil.rmtree(folder, ignore_errors=True)
    write_deltalake(folder, pa.Table.from_pylist(history, schema=INVOICE_SCHEMA), mode="error")
    write_deltalake(folder, pa.Table.from_pylist(latest, schema=INVOICE_SCHEMA), mode="append")
    return len(history) + len(latest)


def write_web_logs(folder: Path, people: Population, rng: np.random.Generator, anonymous: int = 400) -> int:
    """JSON lines per day (hive-style dt= folders); anonymous visitors have no customer_id."""
    start = dt.datetime.combine(AS_OF - dt.timedelta(days=LOG_DAYS - 1), dt.time(0), tzinfo=dt.UTC)
    by_day: dict[int, list[tuple[float, dict[str, Any]]]] = {d: [] for d in range(LOG_DAYS)}
    support_rate = np.exp(-1.0 + 0.8 * people.unhappy)  # support page views per session
    sessions = rng.poisson(np.clip(3.0 + 1.5 * people.unhappy, 0.5, None))
    known_visitors = len(people.ids)
    session_no = 0
    for i in range(known_visitors + anonymous):
        known = i < known_visitors
        for _ in range(int(sessions[i]) if known else 1):
            session_no += 1
            day = int(rng.integers(0, LOG_DAYS))
            t = float(rng.uniform(6 * 3600, 23 * 3600))
            device = str(rng.choice(["desktop", "mobile", "tablet"], p=[0.5, 0.42, 0.08]))
            views = 1 + int(rng.poisson(2.0))
            support_views = int(rng.poisson(support_rate[i])) if known else 0
            pages = list(rng.choice(PAGES[:5], size=views)) + ["/support"] * support_views
            # people who leave look up how to cancel; so do some who only compare offers
            if known and rng.random() < (0.30 if people.churned[i] else 0.04):
                pages.append("/account/cancel")
            for page in pages:
                t += float(rng.exponential(40.0))
                event = {
                    "event_id": f"evt-{session_no:07d}-{len(by_day[day]):05d}",
                    "ts": (start + dt.timedelta(days=day, seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "session_id": f"s-{session_no:07d}",
                    "customer_id": people.ids[i] if known else None,
                    "event_type": "page_view",
                    "page": page,
                    "duration_ms": int(rng.gamma(2.0, 15000.0)),
                    "device": {"type": device, "os": DEVICE_OS[device]},
                    "http": {"status": 200 if rng.random() > 0.01 else 503},
                }
                by_day[day].append((t, event))
    total = 0
    for day, events in by_day.items():
        day_folder = folder / f"dt={(start + dt.timedelta(days=day)).date().isoformat()}"
        day_folder.mkdir(parents=True, exist_ok=True)
        events.sort(key=lambda item: item[0])
        text = "".join(json.dumps(e, separators=(",", ":")) + "\n" for _, e in events)
        (day_folder / "part-00000.json").write_text(text)
        total += len(events)
    return total


def generate(folders: dict[str, Path]) -> dict[str, int]:
    """Write every source into its folder; the order of the calls is part of the fixed random sequence."""
    rng = np.random.default_rng(SEED)
    people = draw_population(rng)
    return {
        "customers": write_customers(folders["customers"], people, rng),
        "subscriptions": write_subscriptions(folders["subscriptions"], people, rng),
        "invoices": write_invoices(folders["invoices"], people, rng),
        "web_logs": write_web_logs(folders["web_logs"], people, rng),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lake", type=Path, help=f"local lake folder (abfss paths map below it; {SOURCES_VARIABLE} wins)"
    )
    parser.add_argument(
        "--account", default=DEFAULT_ACCOUNT, help=f"storage account name (default {DEFAULT_ACCOUNT})"
    )
    args = parser.parse_args(argv)
    counts = generate(source_folders(args.lake, args.account))
    for source, rows in counts.items():
        print(f"{source}: {rows} rows")


if __name__ == "__main__":
    main()
