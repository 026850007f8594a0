"""Write deterministic sample data for every source of the churn project into a local lake.

    python data/generate.py --lake .mlspec/lake [--account contosolakedev]

``abfss://<container>@<account>.dfs.core.windows.net/<path>`` maps to
``<lake>/<account>/<container>/<path>``, so the four sources land in:

- ``raw/crm/customers/``        CSV with a header (schema declared in mlproject.yaml)
- ``raw/web/logs/dt=YYYY-MM-DD/`` JSON lines, nested (device, http), anonymous visits included
- ``raw/billing/subscriptions/`` Parquet, one row per customer
- ``raw/billing/invoices/``      a Delta table written in two commits (history + latest month)

Only the standard library and numpy are used: the Parquet files are written by the small
PLAIN-encoded, uncompressed writer below, and the Delta table is those Parquet files plus
the JSON transaction log (protocol 1/2) that Delta readers replay.

Churn is drawn from a logistic model of the same behaviour the transforms aggregate
(contract, tenure, charges, support and cancel-page visits, late and failed payments),
so a gradient-boosted model on ``customer_features`` clears the spec's roc_auc gate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_ACCOUNT = "contosolakedev"  # the dev environment's lake_account
SEED = 42
CUSTOMERS = 2000
AS_OF = dt.date(2024, 6, 30)  # date of the CRM export
LOG_DAYS = 60
EPOCH = dt.date(1970, 1, 1)

# --- where each source lives (container, path) — keep in sync with mlproject.yaml ----------
CUSTOMERS_PATH = ("raw", "crm/customers")
WEB_LOGS_PATH = ("raw", "web/logs")
SUBSCRIPTIONS_PATH = ("raw", "billing/subscriptions")
INVOICES_PATH = ("raw", "billing/invoices")


def lake_folder(lake: Path, account: str, location: tuple[str, str]) -> Path:
    container, path = location
    folder = lake / account / container / path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- a minimal Parquet writer ------------------------------------------------------------
# One row group, one PLAIN data page per column, no compression, every column OPTIONAL
# (nullable, as Spark writes them). Metadata is Thrift compact protocol.

_T_BOOL_TRUE, _T_BOOL_FALSE, _T_I32, _T_I64, _T_BINARY, _T_LIST, _T_STRUCT = 1, 2, 5, 6, 8, 9, 12
# Spark SQL type -> (parquet physical type, converted type or None)
_PARQUET_TYPES: dict[str, tuple[int, int | None]] = {
    "boolean": (0, None),
    "int": (1, None),
    "long": (2, None),
    "double": (5, None),
    "string": (6, 0),  # BYTE_ARRAY, UTF8
    "date": (1, 6),  # INT32 days since epoch, DATE
    "timestamp": (2, 10),  # INT64 microseconds since epoch (UTC), TIMESTAMP_MICROS
}
_DELTA_TYPES = {"int": "integer", "long": "long", "double": "double", "string": "string"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(n: int) -> int:
    return n << 1 if n >= 0 else ((-n) << 1) - 1


def _thrift_value(kind: int, value: Any) -> bytes:
    if kind in (_T_I32, _T_I64):
        return _varint(_zigzag(value))
    if kind == _T_BINARY:
        data = value.encode() if isinstance(value, str) else value
        return _varint(len(data)) + data
    if kind == _T_STRUCT:
        return _thrift_struct(value)
    if kind == _T_LIST:
        element_kind, items = value
        size = len(items)
        header = (
            bytes([(size << 4) | element_kind]) if size < 15 else bytes([0xF0 | element_kind]) + _varint(size)
        )
        return header + b"".join(_thrift_value(element_kind, item) for item in items)
    raise ValueError(f"unsupported thrift type {kind}")


def _thrift_struct(fields: Sequence[tuple[int, int, Any]]) -> bytes:
    """Fields as (id, compact type, value), ids ascending; ``None`` values are skipped."""
    out = bytearray()
    last = 0
    for field_id, kind, value in fields:
        if value is None:
            continue
        header_kind = (_T_BOOL_TRUE if value else _T_BOOL_FALSE) if kind == _T_BOOL_TRUE else kind
        delta = field_id - last
        if 0 < delta <= 15:
            out.append((delta << 4) | header_kind)
        else:
            out.append(header_kind)
            out += _varint(_zigzag(field_id))
        last = field_id
        if kind != _T_BOOL_TRUE:
            out += _thrift_value(kind, value)
    out.append(0)
    return bytes(out)


def _plain(spark_type: str, values: list[Any]) -> bytes:
    if spark_type == "boolean":
        bits = bytearray((len(values) + 7) // 8)
        for i, v in enumerate(values):
            if v:
                bits[i // 8] |= 1 << (i % 8)
        return bytes(bits)
    if spark_type == "string":
        return b"".join(struct.pack("<I", len(b)) + b for b in (v.encode() for v in values))
    if spark_type == "date":
        return struct.pack(f"<{len(values)}i", *[(v - EPOCH).days for v in values])
    if spark_type == "timestamp":
        micros = [
            int((v - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()) * 1_000_000 for v in values
        ]
        return struct.pack(f"<{len(values)}q", *micros)
    code = {"int": "i", "long": "q", "double": "d"}[spark_type]
    return struct.pack(f"<{len(values)}{code}", *values)


def _definition_levels(values: list[Any]) -> bytes:
    """RLE/bit-packed hybrid, bit width 1 (1 = present), length-prefixed as data page v1 wants."""
    groups = (len(values) + 7) // 8
    bits = bytearray(groups)
    for i, v in enumerate(values):
        if v is not None:
            bits[i // 8] |= 1 << (i % 8)
    encoded = _varint((groups << 1) | 1) + bytes(bits)
    return struct.pack("<I", len(encoded)) + encoded


def write_parquet(path: Path, schema: dict[str, str], rows: list[dict[str, Any]]) -> int:
    """Write ``rows`` (column -> value, ``None`` for null) as a Parquet file; return its size."""
    body = bytearray(b"PAR1")
    chunks = []
    for name, spark_type in schema.items():
        column = [row.get(name) for row in rows]
        present = [v for v in column if v is not None]
        page = _definition_levels(column) + _plain(spark_type, present)
        header = _thrift_struct(
            [
                (1, _T_I32, 0),  # DATA_PAGE
                (2, _T_I32, len(page)),
                (3, _T_I32, len(page)),
                (5, _T_STRUCT, [(1, _T_I32, len(column)), (2, _T_I32, 0), (3, _T_I32, 3), (4, _T_I32, 3)]),
            ]
        )
        offset = len(body)
        body += header + page
        physical, _ = _PARQUET_TYPES[spark_type]
        meta = [
            (1, _T_I32, physical),
            (2, _T_LIST, (_T_I32, [0, 3])),  # PLAIN values, RLE definition levels
            (3, _T_LIST, (_T_BINARY, [name])),
            (4, _T_I32, 0),  # UNCOMPRESSED
            (5, _T_I64, len(column)),
            (6, _T_I64, len(header) + len(page)),
            (7, _T_I64, len(header) + len(page)),
            (9, _T_I64, offset),
        ]
        chunks.append([(2, _T_I64, offset), (3, _T_STRUCT, meta)])
    schema_elements = [[(4, _T_BINARY, "spark_schema"), (5, _T_I32, len(schema))]]
    for name, spark_type in schema.items():
        physical, converted = _PARQUET_TYPES[spark_type]
        schema_elements.append(
            [(1, _T_I32, physical), (3, _T_I32, 1), (4, _T_BINARY, name), (6, _T_I32, converted)]
        )
    total = len(body) - 4
    row_group = [(1, _T_LIST, (_T_STRUCT, chunks)), (2, _T_I64, total), (3, _T_I64, len(rows))]
    footer = _thrift_struct(
        [
            (1, _T_I32, 1),
            (2, _T_LIST, (_T_STRUCT, schema_elements)),
            (3, _T_I64, len(rows)),
            (4, _T_LIST, (_T_STRUCT, [row_group])),
            (6, _T_BINARY, "mlspec example generator"),
        ]
    )
    body += footer + struct.pack("<I", len(footer)) + b"PAR1"
    path.write_bytes(bytes(body))
    return len(body)


def write_delta(
    folder: Path, schema: dict[str, str], commits: list[list[dict[str, Any]]], table_id: str
) -> None:
    """A Delta table: one Parquet file and one ``_delta_log/<version>.json`` per commit (appends)."""
    log = folder / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    fields = [
        {"name": n, "type": _DELTA_TYPES.get(t, t), "nullable": True, "metadata": {}}
        for n, t in schema.items()
    ]
    created = int(dt.datetime(2024, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
    for version, rows in enumerate(commits):
        timestamp = created + version * 86_400_000
        file_name = (
            f"part-{version:05d}-{uuid.uuid5(uuid.NAMESPACE_URL, f'{table_id}/{version}')}-c000.parquet"
        )
        size = write_parquet(folder / file_name, schema, rows)
        actions: list[dict[str, Any]] = [
            {
                "commitInfo": {
                    "timestamp": timestamp,
                    "operation": "WRITE",
                    "operationParameters": {"mode": "Append" if version else "ErrorIfExists"},
                }
            }
        ]
        if version == 0:
            actions.append({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}})
            actions.append(
                {
                    "metaData": {
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, table_id)),
                        "format": {"provider": "parquet", "options": {}},
                        "schemaString": json.dumps({"type": "struct", "fields": fields}),
                        "partitionColumns": [],
                        "configuration": {},
                        "createdTime": created,
                    }
                }
            )
        stats = json.dumps({"numRecords": len(rows)})
        actions.append(
            {
                "add": {
                    "path": file_name,
                    "partitionValues": {},
                    "size": size,
                    "modificationTime": timestamp,
                    "dataChange": True,
                    "stats": stats,
                }
            }
        )
        text = "".join(json.dumps(a, separators=(",", ":")) + "\n" for a in actions)
        (log / f"{version:020d}.json").write_text(text)


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
SUBSCRIPTION_SCHEMA = {
    "customer_id": "string",
    "plan": "string",
    "payment_method": "string",
    "paperless_billing": "boolean",
    "auto_renew": "boolean",
    "num_addons": "int",
    "started_at": "timestamp",
}
INVOICE_SCHEMA = {
    "invoice_id": "string",
    "customer_id": "string",
    "billing_month": "string",
    "due_date": "date",
    "amount": "double",
    "status": "string",
}
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
    lines = [",".join(CUSTOMER_SCHEMA)]
    for i, customer_id in enumerate(people.ids):
        signup = AS_OF - dt.timedelta(days=int(people.tenure[i]) * 30 + int(rng.integers(0, 28)))
        lines.append(
            f"{customer_id},{signup.isoformat()},{people.region[i]},{people.contract[i]},{people.tenure[i]},"
            f"{people.charges[i]:.2f},{str(bool(people.senior[i])).lower()},{str(bool(people.churned[i])).lower()}"
        )
    (folder / f"customers_{AS_OF:%Y%m%d}.csv").write_text("\n".join(lines) + "\n")
    return len(people.ids)


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
    write_parquet(folder / "part-00000.parquet", SUBSCRIPTION_SCHEMA, rows)
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
    write_delta(folder, INVOICE_SCHEMA, [history, latest], "churn/invoices")
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


def generate(lake: Path, account: str) -> dict[str, int]:
    """Write every source; the order of the calls is part of the fixed random sequence."""
    rng = np.random.default_rng(SEED)
    people = draw_population(rng)
    return {
        "customers": write_customers(lake_folder(lake, account, CUSTOMERS_PATH), people, rng),
        "subscriptions": write_subscriptions(lake_folder(lake, account, SUBSCRIPTIONS_PATH), people, rng),
        "invoices": write_invoices(lake_folder(lake, account, INVOICES_PATH), people, rng),
        "web_logs": write_web_logs(lake_folder(lake, account, WEB_LOGS_PATH), people, rng),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lake", type=Path, required=True, help="local lake folder (abfss paths map below it)"
    )
    parser.add_argument(
        "--account", default=DEFAULT_ACCOUNT, help=f"storage account name (default {DEFAULT_ACCOUNT})"
    )
    args = parser.parse_args(argv)
    counts = generate(args.lake, args.account)
    for source, rows in counts.items():
        print(f"{source}: {rows} rows")


if __name__ == "__main__":
    main()
