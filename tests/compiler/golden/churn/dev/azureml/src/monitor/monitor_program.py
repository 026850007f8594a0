"""The monitoring job: production traffic against the training data, as rows of the monitoring table.

One program, run the same way everywhere: by ``mlspec run`` on this machine and, unchanged, as the
Azure ML component the monitoring schedule runs. That sets the rules here: the standard library,
numpy, pandas, pyarrow and scipy only (``deltalake`` when a reference table is Delta), nothing from
mlspec, and one file, because a component's code is this file alone::

    python monitor_program.py --config monitor.json --output DIR

On Azure the monitoring job passes the data as mounted inputs and sends the rows on::

    python monitor_program.py --config monitor.json --output DIR \
        --reference REFERENCE_DIR --predictions PREDICTION_LOG_DIR [--ground-truth DIR] \
        [--model-version N] --ingestion-endpoint URL --rule-id DCR_IMMUTABLE_ID --stream STREAM

``--reference`` and the others replace the config's paths (the config then carries everything
else: alerts, features, windows). With ``--ingestion-endpoint``, the rows of this run are also sent
to the data collection rule's stream with the Logs Ingestion API (``azure-monitor-ingestion``),
signed in as the job's managed identity, which needs *Monitoring Metrics Publisher* on the rule;
that is how they reach ``MlspecModelMonitoring_CL``, the table the Azure Monitor log alerts
query. A failed send is an error (exit 2): an alert must not stay silent because its rows were lost.

It reads the training data (the reference), the prediction log, the ground truth joined to it and
the scoring server's log; computes every statistic over each window an alert asks for; appends them
to ``DIR/MlspecModelMonitoring_CL/`` as a new Parquet file (the columns of
``mlspec/compiler/monitor/tables.py``); evaluates every alert over those rows as the Azure Monitor
rule's KQL does; and writes the outcome to ``DIR/monitor-result.json``.

Statistics, named as Azure ML's model monitor names them:

- **data drift** per feature, production inputs against the reference. A feature is *categorical*
  when the reference holds text or booleans, or integers with at most ``CATEGORICAL_MAX_LEVELS``
  distinct values (flags and small counts: their exact levels say more than quantile bins that
  collapse onto a few values); otherwise *numerical*. Categorical: ``jensen_shannon_distance``
  (base 2, in [0, 1]) and ``population_stability_index`` over the levels. Numerical:
  ``normalized_wasserstein_distance`` (the Wasserstein-1 distance in reference standard deviations),
  and ``population_stability_index`` and ``jensen_shannon_distance`` over bins cut at the
  reference's ``PSI_BINS``-quantiles (each cut value a bin of its own, so a point mass is told apart).
  An alert naming no ``metric`` compares its threshold with the *conventional* metric:
  ``jensen_shannon_distance`` for categorical and ``normalized_wasserstein_distance`` for numerical
  features. Both are 0 for identical distributions and about 0.2 for a clear shift (NWD 0.2: the
  mean moved by a fifth of a standard deviation), the scale alert thresholds are written in; PSI has
  a scale of its own (0.1 moderate, 0.25 large) and is compared only when an alert names it.
  The statistical tests give p-values (drift is a value *below* the threshold, e.g. ``< 0.01``):
  ``two_sample_kolmogorov_smirnov_test`` for numerical features (scipy's ``ks_2samp``) and
  ``pearsons_chi_squared_test`` for categorical ones (scipy's ``chi2_contingency`` over the levels'
  counts in both samples).
- **prediction drift**: the same, predictions against the reference's target column (categorical
  for classification, numerical for regression); ``Feature`` is empty.
- **data quality** per feature, each a share of all production rows of the window:
  ``null_value_rate`` (missing or null), ``data_type_error_rate`` (a value of another type than the
  reference's: text where numbers were trained on, a boolean for a number, ...) and
  ``out_of_bounds_rate`` (a number outside the reference's [min, max], a level it never had).
- **serving**, from the scoring server's JSON log lines: ``latency_p95_ms``/``latency_p99_ms`` over
  ``scored`` lines, ``error_rate`` (share of ``/score`` requests answered with status >= 500) and
  ``request_rate`` (``/score`` requests per second of the window). With a serving log but no request
  in the window the request rate is 0 (a silent endpoint is what a ``<`` alert watches for) and the
  error rate has no value.
- **model metrics** over predictions joined with ground truth on ``request_id`` and ``row``:
  accuracy, precision, recall, f1 (two classes: the positive class is the last label in text order,
  as the evaluate step picks it; more: weighted by support), roc_auc (from the logged probabilities
  when the record names its ``classes``, else from the hard labels; more than two classes:
  one-vs-rest, macro), log_loss (logged probabilities only); for regression rmse, mae, r2 and mape
  (as scikit-learn computes them: mape divides by max(|y|, machine epsilon)).

Rows: one per statistic and window, ``Signal`` the family (``data_drift``, ``prediction_drift``,
``data_quality``, ``model_metric``) or, for serving, the serving signal itself (``Metric`` then
repeats it); ``Feature`` is empty unless the statistic is per feature; ``Window`` is ISO 8601
(``P1D``). ``TimeGenerated`` is ``now`` when the config gives it, else the clock. A statistic
without a finite value is not written. Each run adds one file, ``<time>-<random>.parquet``.

Model version: when the config names a ``model_version``, the production statistics (data drift,
prediction drift, data quality, model metrics) read only the prediction-log records of that
version, and those that name no version (logs written before the field existed). Otherwise a
retrain would feed itself: the drift of the previous version's traffic, still in the window after
the new version is promoted, would keep firing the retrain alert. ``other_version_rows`` in the
result counts the rows left out, ``prediction_rows`` the rows counted. The serving statistics read
the whole scoring-server log, and ``now`` (when the config gives none) is the newest record of any
version.

Windows: a statistic is computed over each window an alert on it names, back from ``now`` (the
newest logged record when the config gives none), and over the family's *summary window*, the one
the result's summary fields report: the config's ``window``, else the family's longest alert window,
else one day. Records newer than ``now`` or without a readable time are outside every window.

Alerts, as ``statistic_query`` in ``mlspec/compiler/monitor/kql.py`` reads the table: the rows of
the alert's signal and window (and metric, see above); per watched feature the most alarming metric,
then the most alarming feature (the largest value for ``>``/``>=``, the smallest for ``<``/``<=``).
A signal without data has the value null and does not fire; ``reason`` says why. ``cpu_percent``
and ``memory_percent`` are AKS platform metrics: nothing measures them outside Azure.

Small samples: ``SampleCount`` is the number of production values a statistic was computed from. A
drift alert (``data_drift``, ``prediction_drift``) counts only statistics of at least
``min_drift_rows`` values (config, default ``MIN_DRIFT_ROWS``): a distance between samples is never
negative, so a small sample of unchanged traffic measures as drift. Below that the alert is not
decided: its value is shown, it does not fire, and ``reason`` gives the count.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import operator
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from numpy.typing import NDArray
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, rankdata, wasserstein_distance

MONITORING_TABLE = "MlspecModelMonitoring_CL"
TABLE_SCHEMA = pa.schema(
    [
        ("TimeGenerated", pa.timestamp("us", tz="UTC")),
        ("Project", pa.string()),
        ("Environment", pa.string()),
        ("Model", pa.string()),
        ("ModelVersion", pa.string()),
        ("Signal", pa.string()),
        ("Feature", pa.string()),
        ("Metric", pa.string()),
        ("Value", pa.float64()),
        ("Window", pa.string()),
        ("SampleCount", pa.int64()),
    ]
)
RESULT_FILE = "monitor-result.json"

JS, NWD, PSI = "jensen_shannon_distance", "normalized_wasserstein_distance", "population_stability_index"
KS, CHI2 = "two_sample_kolmogorov_smirnov_test", "pearsons_chi_squared_test"
CONVENTIONAL_DRIFT_METRIC = {"categorical": JS, "numerical": NWD}
QUALITY_METRICS = ("null_value_rate", "data_type_error_rate", "out_of_bounds_rate")
SERVING_SIGNALS = ("latency_p95_ms", "latency_p99_ms", "error_rate", "request_rate")
PLATFORM_SIGNALS = ("cpu_percent", "memory_percent")
FAMILIES = ("data_drift", "prediction_drift", "data_quality", "model_metric", "serving")
CATEGORICAL_MAX_LEVELS = 10
PSI_BINS = 10
PSI_EPSILON = 1e-4
DEFAULT_WINDOW_MINUTES = 1440
# Fewer production values than this and a drift alert is not decided (the value is still written).
# A distance between two samples is never negative, so sampling noise only pushes it up: 50 rows
# of the very distribution trained on measure about 0.15 normalized Wasserstein distance, the
# scale drift thresholds are written in. From 100 rows on, chance alone stays near 0.1.
MIN_DRIFT_ROWS = 100
DRIFT_SIGNALS = ("data_drift", "prediction_drift")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_SPEC_DURATION = re.compile(r"0*([0-9]{1,9})([mhd])")
_ISO_DURATION = re.compile(r"P(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?)?")
_MINUTES = {"m": 1, "h": 60, "d": 1440}
_META_COLUMNS = ("time", "request_id", "row", "endpoint", "model", "model_version", "prediction")


class ConfigError(ValueError):
    """The monitor configuration is not usable; the message names the field."""


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRule:
    name: str
    signal: str
    operator: str
    threshold: float
    window_minutes: int
    features: tuple[str, ...] | None
    metric: str | None
    action: str
    severity: int | None

    @property
    def family(self) -> str | None:
        if self.signal in SERVING_SIGNALS:
            return "serving"
        return self.signal if self.signal in FAMILIES else None


@dataclass(frozen=True)
class MonitorConfig:
    project: str
    environment: str
    model: str
    model_version: str
    task: str
    target: str
    features: tuple[str, ...]
    reference: tuple[Path, str | None] | None
    predictions: Path | None
    ground_truth: Path | None
    serving_log: Path | None
    alerts: tuple[AlertRule, ...]
    now: datetime | None
    window_minutes: int | None
    min_drift_rows: int = MIN_DRIFT_ROWS

    def windows(self, family: str) -> list[int]:
        """The windows (minutes) ``family`` is computed over; the summary window first."""
        asked = [a.window_minutes for a in self.alerts if a.family == family]
        summary = self.summary_window(family)
        return [summary, *sorted(set(asked) - {summary})]

    def summary_window(self, family: str) -> int:
        asked = [a.window_minutes for a in self.alerts if a.family == family]
        return self.window_minutes or max(asked, default=DEFAULT_WINDOW_MINUTES)


def window_minutes(text: str) -> int:
    """Minutes in a spec duration (``5m``, ``2h``, ``7d``) or an ISO 8601 one (``PT5M``, ``P1D``)."""
    spec = _SPEC_DURATION.fullmatch(text.strip())
    if spec is not None:
        minutes = int(spec[1]) * _MINUTES[spec[2]]
    else:
        iso = _ISO_DURATION.fullmatch(text.strip())
        if iso is None or text.strip() in ("P", "PT"):
            raise ConfigError(f"window {text!r} is not a duration such as 5m, 1d or PT5M")
        minutes = int(iso[1] or 0) * 1440 + int(iso[2] or 0) * 60 + int(iso[3] or 0)
    if minutes <= 0:
        raise ConfigError(f"window {text!r} must be longer than zero")
    return minutes


def iso_window(minutes: int) -> str:
    """The ISO 8601 spelling the alert rules use: ``P1D``, ``PT6H``, ``PT5M``."""
    if minutes % 1440 == 0:
        return f"P{minutes // 1440}D"
    if minutes % 60 == 0:
        return f"PT{minutes // 60}H"
    return f"PT{minutes}M"


def parse_config(config: Mapping[str, Any]) -> MonitorConfig:
    """A validated :class:`MonitorConfig`; :class:`ConfigError` names what is wrong."""
    task = str(config.get("task") or "classification")
    if task not in ("classification", "regression"):
        raise ConfigError(f"task must be classification or regression, not {task!r}")
    reference = config.get("reference")
    return MonitorConfig(
        project=str(config.get("project") or ""),
        environment=str(config.get("environment") or ""),
        model=str(config.get("model") or ""),
        model_version=str(config.get("model_version") or ""),
        task=task,
        target=str(config.get("target") or ""),
        features=tuple(str(f) for f in config.get("features") or []),
        reference=(_path(reference), reference.get("format")) if isinstance(reference, Mapping) else None,
        predictions=_optional_path(config.get("predictions")),
        ground_truth=_optional_path(config.get("ground_truth")),
        serving_log=_optional_path(config.get("serving_log")),
        alerts=tuple(_alert(a, i) for i, a in enumerate(config.get("alerts") or [])),
        now=_timestamp(config["now"]) if config.get("now") else None,
        window_minutes=window_minutes(str(config["window"])) if config.get("window") else None,
        min_drift_rows=_positive_int(config, "min_drift_rows", MIN_DRIFT_ROWS),
    )


def _positive_int(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _path(section: Mapping[str, Any]) -> Path:
    if not section.get("path"):
        raise ConfigError("a data section needs a path")
    return Path(str(section["path"]))


def _optional_path(value: Any) -> Path | None:
    if not value:
        return None
    return _path(value) if isinstance(value, Mapping) else Path(str(value))


def _alert(raw: Mapping[str, Any], index: int) -> AlertRule:
    name = str(raw.get("name") or f"alert-{index}")
    op = str(raw.get("operator") or ">")
    if op not in COMPARISONS:
        raise ConfigError(f"alert {name!r}: operator must be one of {', '.join(COMPARISONS)}, not {op!r}")
    try:
        threshold = float(raw["threshold"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"alert {name!r}: threshold must be a number") from None
    features = raw.get("features")
    return AlertRule(
        name=name,
        signal=str(raw.get("signal") or ""),
        operator=op,
        threshold=threshold,
        window_minutes=window_minutes(str(raw.get("window") or "1d")),
        features=tuple(str(f) for f in features) if features else None,
        metric=str(raw["metric"]) if raw.get("metric") else None,
        action=str(raw.get("action") or "notify"),
        severity=int(raw["severity"]) if raw.get("severity") is not None else None,
    )


def _timestamp(text: Any) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise ConfigError(f"now must be an ISO 8601 time, not {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- reading ---------------------------------------------------------------------------------


def read_table(path: Path | str, fmt: str | None = None) -> pd.DataFrame:
    """A local table: a file, or a folder of parquet/delta/csv/json(l) files.

    A partitioned folder keeps its partition columns (``key=value`` folders, hive style); Delta
    tables are read with ``deltalake`` (delta-rs).
    """
    path = Path(path)
    kind = (fmt or _guess_format(path)).lower()
    if kind == "delta" or (path / "_delta_log").is_dir():
        from deltalake import DeltaTable

        return DeltaTable(str(path)).to_pandas()
    if kind in ("json", "jsonl"):
        files = [path] if path.is_file() else _files(path, (".json", ".jsonl"))
        return pd.DataFrame.from_records(list(_json_lines(files)))
    if kind not in ("parquet", "csv"):
        raise ValueError(f"{path}: cannot read format {kind!r}")
    if path.is_file():
        return pq.read_table(path).to_pandas() if kind == "parquet" else pd.read_csv(path)
    dataset = pads.dataset(str(path), format=kind, partitioning="hive")
    return dataset.to_table().to_pandas()


def _guess_format(path: Path) -> str:
    files = [path] if path.is_file() else _files(path, (".parquet", ".csv", ".json", ".jsonl"))
    suffixes = {f.suffix.lower() for f in files}
    for suffix, kind in ((".parquet", "parquet"), (".csv", "csv"), (".json", "json"), (".jsonl", "json")):
        if suffix in suffixes:
            return kind
    return "parquet"


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    found = (p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    return sorted(p for p in found if not p.name.startswith((".", "_")))


_DATED = re.compile(r"(\d{4})/(\d{2})/(\d{2})/")


def _recent(files: list[Path], root: Path, keep_days: int, anchor: date | None) -> list[Path]:
    """``files`` without those in ``YYYY/MM/DD/`` folders more than ``keep_days`` before ``anchor`` (or
    the newest one)."""
    dated: dict[Path, date] = {}
    for file in files:
        match = _DATED.search(file.relative_to(root).as_posix())
        if match is not None:
            with contextlib.suppress(ValueError):
                dated[file] = date(int(match[1]), int(match[2]), int(match[3]))
    if not dated:
        return files
    oldest = (anchor or max(dated.values())) - timedelta(days=keep_days)
    return [f for f in files if f not in dated or dated[f] >= oldest]


def _json_lines(files: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every JSON object of the files, one per line; other lines (plain log text) are skipped."""
    for file in files:
        with file.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                text = line.strip()
                if not text.startswith("{"):
                    continue
                try:
                    value = json.loads(text)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    yield value


@dataclass(frozen=True)
class PredictionLog:
    """The prediction log, one row per scored input.

    ``meta`` holds ``time`` (UTC), ``request_id``, ``row`` (the input's position in its request),
    ``endpoint``, ``model``, ``model_version``, ``prediction``, ``probabilities`` and ``classes``;
    ``inputs`` the features as logged (raw JSON values, so type errors stay visible), same index.
    """

    meta: pd.DataFrame
    inputs: pd.DataFrame

    def __len__(self) -> int:
        return len(self.meta)

    def within(self, start: datetime, end: datetime) -> PredictionLog:
        times = self.meta["time"]
        mask = (times > pd.Timestamp(start)) & (times <= pd.Timestamp(end))
        return PredictionLog(self.meta[mask], self.inputs[mask])

    def of_version(self, version: str) -> tuple[PredictionLog, int]:
        """The rows of model ``version`` and those naming no version, and how many were left out.

        An empty ``version`` keeps every row."""
        if not version:
            return self, 0
        logged = self.meta["model_version"]
        mask = logged.isna() | (logged == version)
        return PredictionLog(self.meta[mask], self.inputs[mask]), int((~mask).sum())

    def flat(self) -> pd.DataFrame:
        """One table as the report reads it: the features, then what the scoring server added."""
        features = self.inputs.drop(columns=[c for c in self.inputs.columns if c in _META_COLUMNS])
        frame = pd.concat([features, self.meta[list(_META_COLUMNS)]], axis=1)
        return frame.infer_objects().reset_index(drop=True)


def read_prediction_log(
    path: Path | str | None, keep_days: int | None = None, anchor: date | None = None
) -> PredictionLog:
    """The prediction log under ``path`` (a ``.jsonl`` file or a folder of them); empty when absent.

    With ``keep_days``, files in the dated folders the scoring pods write (``YYYY/MM/DD/``) older than
    that many days before ``anchor`` (default: the newest such folder) are not read: a run costs its
    windows, not the whole history (files outside dated folders, as a local run writes them, are
    always read)."""
    files: list[Path] = []
    if path is not None:
        folder = Path(path)
        files = [folder] if folder.is_file() else _files(folder, (".jsonl", ".json"))
        if keep_days is not None and not folder.is_file():
            files = _recent(files, folder, keep_days, anchor)
    meta: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    for record in _json_lines(files):
        rows = record.get("inputs")
        if not isinstance(rows, list):
            continue
        predictions = _list(record.get("predictions"))
        probabilities = _list(record.get("probabilities"))
        classes = record.get("classes") if isinstance(record.get("classes"), list) else None
        for index, row in enumerate(rows):
            inputs.append(row if isinstance(row, dict) else {})
            meta.append(
                {
                    "time": record.get("time"),
                    "request_id": None if record.get("request_id") is None else str(record["request_id"]),
                    "row": index,
                    "endpoint": record.get("endpoint"),
                    "model": record.get("model"),
                    "model_version": None
                    if record.get("model_version") is None
                    else str(record["model_version"]),
                    "prediction": predictions[index] if index < len(predictions) else None,
                    "probabilities": probabilities[index] if index < len(probabilities) else None,
                    "classes": classes,
                }
            )
    frame = pd.DataFrame(meta, columns=[*_META_COLUMNS, "probabilities", "classes"], dtype=object)
    frame["time"] = pd.to_datetime(frame["time"], utc=True, errors="coerce", format="ISO8601")
    return PredictionLog(frame, pd.DataFrame(inputs, index=frame.index, dtype=object))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def read_ground_truth(path: Path | None) -> pd.DataFrame:
    """``request_id``, ``row``, ``target`` records (a ``.jsonl`` file or a folder); the last one wins."""
    records: list[dict[str, Any]] = []
    if path is not None:
        files = [path] if path.is_file() else _files(path, (".jsonl", ".json"))
        for record in _json_lines(files):
            if record.get("request_id") is None or "target" not in record:
                continue
            row = record.get("row", 0)
            records.append(
                {
                    "request_id": str(record["request_id"]),
                    "row": int(row) if isinstance(row, (int, float)) and not isinstance(row, bool) else 0,
                    "target": record["target"],
                }
            )
    frame = pd.DataFrame(records, columns=["request_id", "row", "target"])
    return frame.drop_duplicates(["request_id", "row"], keep="last")


def read_serving_log(path: Path | None) -> pd.DataFrame:
    """The scoring server's JSON log lines that carry an ``event`` (other lines are ignored)."""
    records: list[dict[str, Any]] = []
    if path is not None and path.is_file():
        records = [r for r in _json_lines([path]) if "event" in r]
    columns = ["event", "time", "path", "status", "ms", "project"]
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in records], columns=columns, dtype=object)
    frame["time"] = pd.to_datetime(frame["time"], utc=True, errors="coerce", format="ISO8601")
    frame["status"] = pd.to_numeric(frame["status"], errors="coerce")
    frame["ms"] = pd.to_numeric(frame["ms"], errors="coerce")
    return frame


# --- distances -------------------------------------------------------------------------------


def category_key(value: Any) -> str | None:
    """One spelling per level across readers: ``1``, ``1.0`` and ``numpy.int64(1)`` are ``"1"``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _shares(keys: Sequence[str], levels: Sequence[str]) -> NDArray[np.float64]:
    counts = pd.Series(list(keys), dtype=object).value_counts()
    values = np.array([float(counts.get(level, 0)) for level in levels])
    shares: NDArray[np.float64] = values / values.sum()
    return shares


def jensen_shannon_distance(reference: Sequence[str], production: Sequence[str]) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between the level frequencies of two samples."""
    levels = sorted(set(reference) | set(production))
    value = float(jensenshannon(_shares(reference, levels), _shares(production, levels), base=2))
    return 0.0 if math.isnan(value) else value  # rounding can leave a tiny negative under the root


def _psi(reference: NDArray[np.float64], production: NDArray[np.float64], epsilon: float) -> float:
    # An empty bin would make the log infinite: it counts as epsilon of its sample instead.
    p = np.where(reference == 0, epsilon, reference)
    q = np.where(production == 0, epsilon, production)
    return float(np.sum((q - p) * np.log(q / p)))


def chi_squared_p_value(reference: Sequence[str], production: Sequence[str]) -> float:
    """Pearson's chi-squared test of homogeneity of the two samples' levels: its p-value (1.0 when
    both hold one and the same level: nothing can differ)."""
    levels = sorted(set(reference) | set(production))
    if len(levels) < 2:
        return 1.0
    index = {level: i for i, level in enumerate(levels)}
    table = np.zeros((2, len(levels)))
    for row, sample in enumerate((reference, production)):
        np.add.at(table[row], [index[v] for v in sample], 1)
    return float(chi2_contingency(table, correction=False).pvalue)


def categorical_psi(
    reference: Sequence[str], production: Sequence[str], epsilon: float = PSI_EPSILON
) -> float:
    """Population stability index over the levels of two samples."""
    levels = sorted(set(reference) | set(production))
    return _psi(_shares(reference, levels), _shares(production, levels), epsilon)


def _binned_shares(
    reference: NDArray[np.float64], production: NDArray[np.float64], bins: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Both samples' shares of the bins cut at the reference's ``bins``-quantiles: below the first
    cut, each cut value on its own, between two cuts, above the last.

    Repeated quantiles (a value most rows share) merge into one cut, and that value keeps a bin of its
    own: a reference of 95% zeros against production of all ones is a complete shift, not two samples
    in one bin ``x >= 0``.
    """
    inner = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1))[1:-1])
    count = 2 * len(inner) + 1

    def shares(sample: NDArray[np.float64]) -> NDArray[np.float64]:
        # left + right: 2i strictly between cut i-1 and cut i, 2i+1 exactly on cut i.
        index = np.searchsorted(inner, sample, side="left") + np.searchsorted(inner, sample, side="right")
        counted = np.bincount(index, minlength=count)
        result: NDArray[np.float64] = counted / counted.sum()
        return result

    return shares(reference), shares(production)


def population_stability_index(
    reference: NDArray[np.float64],
    production: NDArray[np.float64],
    bins: int = PSI_BINS,
    epsilon: float = PSI_EPSILON,
) -> float:
    """PSI over the bins cut at the reference's ``bins``-quantiles (see :func:`_binned_shares`)."""
    return _psi(*_binned_shares(reference, production, bins), epsilon)


def numerical_jensen_shannon_distance(
    reference: NDArray[np.float64], production: NDArray[np.float64], bins: int = PSI_BINS
) -> float:
    """Jensen-Shannon distance (base 2) between the shares of the bins PSI uses: Azure ML computes it
    for numerical features too, and an alert naming it watches them."""
    value = float(jensenshannon(*_binned_shares(reference, production, bins), base=2))
    return 0.0 if math.isnan(value) else value


def normalized_wasserstein_distance(reference: NDArray[np.float64], production: NDArray[np.float64]) -> float:
    """Wasserstein-1 distance in units of the reference's standard deviation.

    Production values are first clipped to the reference's range widened by its width on each
    side (:func:`drift_range`): the distance moves mass, so one value of 2**62 among thousands
    would otherwise measure as a drift of 1e13. A shift of the whole distribution still measures
    large; values that far out are what ``out_of_bounds_rate`` counts. A constant reference has no
    spread to measure by: its magnitude (at least 1) stands in.
    """
    low, high = drift_range(reference)
    distance = float(wasserstein_distance(reference, np.clip(production, low, high)))
    scale = float(np.std(reference))
    if scale == 0.0:
        scale = max(abs(float(reference[0])), 1.0)
    return distance / scale


def drift_range(reference: NDArray[np.float64]) -> tuple[float, float]:
    """The reference's [min, max] widened by its width on each side (by 1 for a constant one)."""
    low, high = float(np.min(reference)), float(np.max(reference))
    width = high - low or max(abs(low), 1.0)
    return low - width, high + width


# --- per-feature statistics --------------------------------------------------------------------


@dataclass(frozen=True)
class Statistic:
    signal: str
    feature: str
    metric: str
    value: float
    window: str
    rows: int | None = None
    """The production values it was computed from (``None`` for serving statistics)."""


@dataclass(frozen=True)
class FeatureProfile:
    """What the reference tells about a column: its kind, value type, levels and range."""

    kind: str  # categorical | numerical
    family: str  # number | bool | text
    keys: tuple[str, ...]
    levels: frozenset[str]
    numbers: NDArray[np.float64]
    minimum: float | None
    maximum: float | None

    def type_ok(self, value: Any) -> bool:
        if self.family == "bool":
            return isinstance(value, (bool, np.bool_))
        if self.family == "text":
            return isinstance(value, str)
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        )

    def in_bounds(self, value: Any) -> bool:
        if self.family == "number":
            assert self.minimum is not None and self.maximum is not None
            return self.minimum <= float(value) <= self.maximum
        return category_key(value) in self.levels


def profile(series: pd.Series, kind: str | None = None) -> FeatureProfile | None:
    """The profile of a reference column, or ``None`` when it has no usable value.

    ``kind`` forces categorical or numerical (for a target the task decides).
    """
    values = series.dropna()
    if values.empty or pd.api.types.is_datetime64_any_dtype(values):
        return None
    family = _family(values)
    if family is None:
        return None
    numbers = np.empty(0)
    minimum = maximum = None
    if family == "number":
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        numbers = numbers[np.isfinite(numbers)]
        if numbers.size == 0:
            return None
        minimum, maximum = float(numbers.min()), float(numbers.max())
    if kind is None:
        few = pd.api.types.is_integer_dtype(values) and values.nunique() <= CATEGORICAL_MAX_LEVELS
        kind = "numerical" if family == "number" and not few else "categorical"
    if kind == "numerical" and family != "number":
        return None
    keys: tuple[str, ...] = ()
    if kind == "categorical" or family != "number":
        keys = tuple(k for k in (category_key(v) for v in values) if k is not None)
    return FeatureProfile(kind, family, keys, frozenset(keys), numbers, minimum, maximum)


def _family(values: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    sample = values.tolist()
    if all(isinstance(v, (bool, np.bool_)) for v in sample):
        return "bool"
    if all(isinstance(v, (int, float, np.integer, np.floating, Decimal)) for v in sample):
        return "number"  # Decimal: a decimal(p,s) column as pyarrow reads it
    if all(isinstance(v, str) for v in sample):
        return "text"
    return None


def comparable_values(reference: FeatureProfile, production: pd.Series) -> list[str] | NDArray[np.float64]:
    """The production values drift compares with the reference: level keys (categorical) or finite
    numbers (numerical), of the non-null values of the reference's type."""
    valid = [v for v in production.tolist() if not _is_null(v) and reference.type_ok(v)]
    if reference.kind == "categorical":
        return [k for k in (category_key(v) for v in valid) if k is not None]
    numbers = np.asarray([float(v) for v in valid], dtype=float)
    finite: NDArray[np.float64] = numbers[np.isfinite(numbers)]
    return finite


def drift_between(reference: FeatureProfile, values: list[str] | NDArray[np.float64]) -> dict[str, float]:
    """The drift metrics of the comparable production ``values`` (see :func:`comparable_values`);
    empty when there is none."""
    if len(values) == 0:
        return {}
    if isinstance(values, list):
        return {
            JS: jensen_shannon_distance(reference.keys, values),
            PSI: categorical_psi(reference.keys, values),
            CHI2: chi_squared_p_value(reference.keys, values),
        }
    numbers = values
    return {
        NWD: normalized_wasserstein_distance(reference.numbers, numbers),
        PSI: population_stability_index(reference.numbers, numbers),
        KS: float(ks_2samp(reference.numbers, numbers).pvalue),
        JS: numerical_jensen_shannon_distance(reference.numbers, numbers),
    }


def quality_metrics(reference: FeatureProfile, production: pd.Series) -> dict[str, float]:
    """Null, type-error and out-of-bounds shares of all production rows (empty: no rows)."""
    values = production.tolist()
    if not values:
        return {}
    nulls = sum(1 for v in values if _is_null(v))
    wrong = sum(1 for v in values if not _is_null(v) and not reference.type_ok(v))
    outside = sum(
        1 for v in values if not _is_null(v) and reference.type_ok(v) and not reference.in_bounds(v)
    )
    total = float(len(values))
    return {
        "null_value_rate": nulls / total,
        "data_type_error_rate": wrong / total,
        "out_of_bounds_rate": outside / total,
    }


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(float(value))


# --- serving and model metrics -------------------------------------------------------------------


def serving_metrics(log: pd.DataFrame, minutes: int, has_log: bool) -> dict[str, float | None]:
    """Latency percentiles, error rate and request rate of the (already windowed) serving log."""
    result: dict[str, float | None] = dict.fromkeys(SERVING_SIGNALS)
    if not has_log:
        return result
    latency = log.loc[log["event"] == "scored", "ms"].dropna().to_numpy(dtype=float)
    if latency.size:
        result["latency_p95_ms"] = float(np.percentile(latency, 95))
        result["latency_p99_ms"] = float(np.percentile(latency, 99))
    paths = log["path"].map(lambda p: isinstance(p, str) and p.startswith("/score"))
    requests = log[(log["event"] == "request") & paths]
    if len(requests):
        result["error_rate"] = float((requests["status"] >= 500).sum()) / len(requests)
    result["request_rate"] = len(requests) / (minutes * 60.0)
    return result


def model_metrics(task: str, joined: pd.DataFrame) -> dict[str, float]:
    """Metrics over rows with ``target``, ``prediction``, ``probabilities`` and ``classes``."""
    if joined.empty:
        return {}
    if task == "regression":
        return regression_metrics(
            pd.to_numeric(joined["target"], errors="coerce").to_numpy(dtype=float),
            pd.to_numeric(joined["prediction"], errors="coerce").to_numpy(dtype=float),
        )
    return classification_metrics(joined)


def regression_metrics(truth: NDArray[np.float64], predicted: NDArray[np.float64]) -> dict[str, float]:
    keep = np.isfinite(truth) & np.isfinite(predicted)
    y, p = truth[keep], predicted[keep]
    if y.size == 0:
        return {}
    error = y - p
    total = float(np.sum((y - y.mean()) ** 2))
    residual = float(np.sum(error**2))
    # A constant target: scikit-learn's finite convention (1 when every prediction is exact, else 0).
    r2 = (1.0 if residual == 0.0 else 0.0) if total == 0.0 else 1.0 - residual / total
    eps = float(np.finfo(np.float64).eps)
    return {
        "rmse": math.sqrt(float(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": r2,
        "mape": float(np.mean(np.abs(error) / np.maximum(np.abs(y), eps))),
    }


def classification_metrics(joined: pd.DataFrame) -> dict[str, float]:
    truth = [category_key(v) for v in joined["target"]]
    predicted = [category_key(v) for v in joined["prediction"]]
    pairs = [(t, p) for t, p in zip(truth, predicted, strict=True) if t is not None and p is not None]
    if not pairs:
        return {}
    keep = [t is not None and p is not None for t, p in zip(truth, predicted, strict=True)]
    rows = joined[keep]
    y = np.array([t for t, _ in pairs], dtype=object)
    p = np.array([q for _, q in pairs], dtype=object)
    logged = [category_key(c) for c in (rows["classes"].iloc[0] or [])] if "classes" in rows else []
    classes = sorted(set(y) | set(p) | {c for c in logged if c is not None})
    result = {"accuracy": float(np.mean(y == p))}
    result.update(_precision_recall_f1(y, p, classes))
    scores = _probability_matrix(rows, classes)
    auc = _roc_auc(y, p, classes, scores)
    if auc is not None:
        result["roc_auc"] = auc
    if scores is not None and all(t in classes for t in y):
        result["log_loss"] = _log_loss(y, scores, classes)
    return result


def _precision_recall_f1(y: NDArray[Any], p: NDArray[Any], classes: list[str]) -> dict[str, float]:
    def one(label: str) -> tuple[float, float, float]:
        tp = float(np.sum((p == label) & (y == label)))
        predicted, actual = float(np.sum(p == label)), float(np.sum(y == label))
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    if len(classes) <= 2:
        precision, recall, f1 = one(classes[-1])
    else:
        weights = np.array([np.sum(y == c) for c in classes], dtype=float)
        table = np.array([one(c) for c in classes])
        precision, recall, f1 = (float(v) for v in weights @ table / weights.sum())
    return {"precision": precision, "recall": recall, "f1": f1}


def _probability_matrix(rows: pd.DataFrame, classes: list[str]) -> NDArray[np.float64] | None:
    """Rows x classes probabilities when every row logged them with its classes, else ``None``."""
    matrix = np.zeros((len(rows), len(classes)))
    for i, (probabilities, logged) in enumerate(zip(rows["probabilities"], rows["classes"], strict=True)):
        if not isinstance(probabilities, list) or not isinstance(logged, list):
            return None
        if len(probabilities) != len(logged):
            return None
        for label, value in zip(logged, probabilities, strict=True):
            key = category_key(label)
            if key not in classes or not isinstance(value, (int, float)):
                return None
            matrix[i, classes.index(key)] = float(value)
    return matrix


def binary_auc(positive: NDArray[np.bool_], scores: NDArray[np.float64]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count half); ``None`` without both classes."""
    n1 = int(positive.sum())
    n0 = positive.size - n1
    if n1 == 0 or n0 == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def _roc_auc(
    y: NDArray[Any], p: NDArray[Any], classes: list[str], scores: NDArray[np.float64] | None
) -> float | None:
    if scores is None:  # hard labels: a one-hot score per class
        scores = np.array([[1.0 if q == c else 0.0 for c in classes] for q in p]).reshape(
            len(p), len(classes)
        )
    if len(classes) <= 2:
        return binary_auc(y == classes[-1], scores[:, -1])
    areas = [binary_auc(y == c, scores[:, i]) for i, c in enumerate(classes) if np.any(y == c)]
    found = [a for a in areas if a is not None]
    return float(np.mean(found)) if found and len(found) == len(areas) else None


def _log_loss(y: NDArray[Any], scores: NDArray[np.float64], classes: list[str]) -> float:
    eps = float(np.finfo(np.float64).eps)
    clipped = np.clip(scores, eps, 1 - eps)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    chosen = clipped[np.arange(len(y)), [classes.index(t) for t in y]]
    return float(-np.mean(np.log(chosen)))


# --- one monitoring run ------------------------------------------------------------------------


@dataclass
class MonitorData:
    reference: pd.DataFrame
    predictions: PredictionLog
    ground_truth: pd.DataFrame
    serving: pd.DataFrame
    has_serving_log: bool
    other_version_rows: int = 0
    """Prediction-log rows of another model version than the config's, left out of ``predictions``."""
    newest_prediction: pd.Timestamp | None = None
    """The newest logged prediction of any version (the anchor when the config gives no ``now``)."""


@dataclass
class Computed:
    """Everything one run measured, and why a family measured nothing."""

    statistics: list[Statistic] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    feature_notes: dict[str, str] = field(default_factory=dict)
    serving: dict[int, dict[str, float | None]] = field(default_factory=dict)
    notes: dict[tuple[str, int], str] = field(default_factory=dict)
    joined_rows: dict[int, int] = field(default_factory=dict)


def load_data(config: MonitorConfig) -> MonitorData:
    reference = pd.DataFrame()
    if config.reference is not None and config.reference[0].exists():
        reference = read_table(*config.reference)
    log_file = config.serving_log
    # Every window ends at "now", at the newest record at the latest: a day more than the longest one
    # (the window may start the day before its folder) is all the run can use.
    longest = max([config.summary_window(f) for f in FAMILIES] + [a.window_minutes for a in config.alerts])
    anchor = config.now.astimezone(UTC).date() if config.now is not None else None
    logged = read_prediction_log(config.predictions, keep_days=math.ceil(longest / 1440) + 1, anchor=anchor)
    current, left_out = logged.of_version(config.model_version)
    times = logged.meta["time"].dropna()
    return MonitorData(
        reference=reference,
        predictions=current,
        ground_truth=read_ground_truth(config.ground_truth),
        serving=read_serving_log(log_file),
        has_serving_log=log_file is not None and log_file.is_file(),
        other_version_rows=left_out,
        newest_prediction=times.max() if len(times) else None,
    )


def anchor_time(config: MonitorConfig, data: MonitorData) -> datetime:
    """``now`` of the config, else the newest logged record, else the clock."""
    if config.now is not None:
        return config.now
    times = data.serving["time"].dropna()
    if data.newest_prediction is not None:
        times = pd.concat([times, pd.Series([data.newest_prediction])])
    return times.max().to_pydatetime() if len(times) else datetime.now(UTC)


def compute(config: MonitorConfig, data: MonitorData, now: datetime) -> Computed:
    out = Computed()
    profiles = {f: _profile(data.reference, f) for f in config.features}
    out.kinds = {f: p.kind for f, p in profiles.items() if p is not None}
    out.feature_notes = {
        f: "not a column of the reference" if f not in data.reference.columns else "no usable reference value"
        for f, p in profiles.items()
        if p is None
    }
    target_kind = "categorical" if config.task == "classification" else "numerical"
    target = _profile(data.reference, config.target, target_kind)
    for family in FAMILIES:
        for minutes in config.windows(family):
            start = now - timedelta(minutes=minutes)
            window = iso_window(minutes)
            if family == "serving":
                times = data.serving["time"]
                log = data.serving[(times > pd.Timestamp(start)) & (times <= pd.Timestamp(now))]
                values = serving_metrics(log, minutes, data.has_serving_log)
                out.serving[minutes] = values
                out.statistics += [Statistic(s, "", s, v, window) for s, v in values.items() if v is not None]
                if not data.has_serving_log:
                    out.notes[(family, minutes)] = "no serving log to read"
                for signal in ("latency_p95_ms", "latency_p99_ms"):
                    out.notes[(signal, minutes)] = f"no scored request in the {window} window"
                out.notes[("error_rate", minutes)] = f"no /score request in the {window} window"
                continue
            production = data.predictions.within(start, now)
            if not len(production):
                out.notes[(family, minutes)] = _no_prediction_note(config, data, window)
                continue
            found = _family_statistics(family, config, profiles, target, production, data, window)
            out.statistics += found.statistics
            if found.note:
                out.notes[(family, minutes)] = found.note
            if family == "model_metric":
                out.joined_rows[minutes] = found.joined
    return out


def _no_prediction_note(config: MonitorConfig, data: MonitorData, window: str) -> str:
    if config.predictions is None:
        return "the deployment logs no predictions: set deployment.log_predictions in the spec"
    if data.other_version_rows:
        return (
            f"no logged prediction of model version {config.model_version} in the {window} window "
            f"({data.other_version_rows} logged rows of other versions are left out)"
        )
    return f"no logged prediction in the {window} window"


@dataclass
class _Found:
    statistics: list[Statistic]
    note: str | None = None
    joined: int = 0


def _family_statistics(
    family: str,
    config: MonitorConfig,
    profiles: Mapping[str, FeatureProfile | None],
    target: FeatureProfile | None,
    production: PredictionLog,
    data: MonitorData,
    window: str,
) -> _Found:
    if family in ("data_drift", "data_quality"):
        rows: list[Statistic] = []
        for feature, reference in profiles.items():
            if reference is None:
                continue
            column = production.inputs.get(feature, pd.Series([None] * len(production), dtype=object))
            if family == "data_drift":
                comparable = comparable_values(reference, column)
                measured, count = drift_between(reference, comparable), len(comparable)
            else:
                measured, count = quality_metrics(reference, column), len(column)
            rows += [Statistic(family, feature, m, v, window, count) for m, v in measured.items()]
        note = None if rows else "the reference has none of the features (or no usable values)"
        return _Found(rows, note)
    if family == "prediction_drift":
        if target is None:
            return _Found([], f"the reference has no usable target column {config.target!r}")
        predictions = comparable_values(target, production.meta["prediction"])
        measured = drift_between(target, predictions)
        return _Found([Statistic(family, "", m, v, window, len(predictions)) for m, v in measured.items()])
    if data.ground_truth.empty:
        return _Found([], "no ground truth to join")
    joined = production.meta.merge(data.ground_truth, on=["request_id", "row"], how="inner")
    if joined.empty:
        return _Found([], f"no ground truth joins a prediction of the {window} window")
    metrics = model_metrics(config.task, joined)
    statistics = [Statistic(family, "", m, v, window, len(joined)) for m, v in metrics.items()]
    return _Found(statistics, joined=len(joined))


def _profile(reference: pd.DataFrame, column: str, kind: str | None = None) -> FeatureProfile | None:
    if not column or column not in reference.columns:
        return None
    return profile(reference[column], kind)


# --- alerts ------------------------------------------------------------------------------------


def evaluate_alert(
    alert: AlertRule, computed: Computed, task: str, min_drift_rows: int = MIN_DRIFT_ROWS
) -> dict[str, Any]:
    """The alert's value over its window, as the rule's query reads it, and whether it fires.

    A drift alert whose statistics all come from fewer than ``min_drift_rows`` production values
    is not decided: it has the most alarming of those values, ``fired`` false, and a ``reason``.
    """
    outcome: dict[str, Any] = {
        "name": alert.name,
        "signal": alert.signal,
        "value": None,
        "threshold": alert.threshold,
        "operator": alert.operator,
        "fired": False,
        "action": alert.action,
        "feature": None,
        "window": iso_window(alert.window_minutes),
    }
    if alert.signal in PLATFORM_SIGNALS:
        outcome["reason"] = f"{alert.signal} is an AKS platform metric: nothing measures it outside Azure"
        return outcome
    if alert.family is None:
        outcome["reason"] = f"{alert.signal!r} is not a signal the monitor knows"
        return outcome
    candidates = [s for s in computed.statistics if _watched(alert, s, computed.kinds, task)]
    rising = alert.operator in (">", ">=")
    if alert.signal in DRIFT_SIGNALS and candidates:
        enough = [s for s in candidates if (s.rows or 0) >= min_drift_rows]
        if not enough:
            small = (max if rising else min)(candidates, key=lambda s: s.value)
            outcome.update(
                value=small.value, metric=small.metric, feature=small.feature or None, rows=small.rows
            )
            outcome["reason"] = (
                f"only {small.rows} production values in the {outcome['window']} window: a drift "
                f"decision needs at least {min_drift_rows} (a small sample drifts by chance)"
            )
            return outcome
        candidates = enough
    per_feature: dict[str, Statistic] = {}
    for statistic in candidates:
        best = per_feature.get(statistic.feature)
        if best is None or _more_alarming(statistic.value, best.value, rising):
            per_feature[statistic.feature] = statistic
    if not per_feature:
        notes = computed.notes
        minutes = alert.window_minutes
        note = notes.get((alert.family, minutes)) or notes.get((alert.signal, minutes))
        outcome["reason"] = note or f"no statistic for this alert in the {outcome['window']} window"
        return outcome
    chosen = (max if rising else min)(per_feature.values(), key=lambda s: s.value)
    outcome.update(
        value=chosen.value,
        metric=chosen.metric,
        feature=chosen.feature or None,
        fired=COMPARISONS[alert.operator](chosen.value, alert.threshold),
        rows=chosen.rows,
    )
    return outcome


def _more_alarming(value: float, than: float, rising: bool) -> bool:
    return value > than if rising else value < than


def _watched(alert: AlertRule, statistic: Statistic, kinds: Mapping[str, str], task: str) -> bool:
    if statistic.window != iso_window(alert.window_minutes) or statistic.signal != alert.signal:
        return False
    if alert.features and statistic.feature not in alert.features:
        return False
    if alert.metric is not None:
        return statistic.metric == alert.metric
    if alert.signal == "data_drift":
        return statistic.metric == CONVENTIONAL_DRIFT_METRIC.get(kinds.get(statistic.feature, ""))
    if alert.signal == "prediction_drift":
        kind = "categorical" if task == "classification" else "numerical"
        return statistic.metric == CONVENTIONAL_DRIFT_METRIC[kind]
    return True


# --- output ------------------------------------------------------------------------------------


def table_rows(config: MonitorConfig, statistics: Sequence[Statistic], generated: datetime) -> pa.Table:
    """The statistics as rows of the monitoring table (finite values only)."""
    kept = [s for s in statistics if math.isfinite(s.value)]
    columns = {
        "TimeGenerated": [generated] * len(kept),
        "Project": [config.project] * len(kept),
        "Environment": [config.environment] * len(kept),
        "Model": [config.model] * len(kept),
        "ModelVersion": [config.model_version] * len(kept),
        "Signal": [s.signal for s in kept],
        "Feature": [s.feature for s in kept],
        "Metric": [s.metric for s in kept],
        "Value": [float(s.value) for s in kept],
        "Window": [s.window for s in kept],
        "SampleCount": [s.rows for s in kept],
    }
    return pa.Table.from_pydict(columns, schema=TABLE_SCHEMA)


def append_table(table: pa.Table, output: Path, generated: datetime) -> Path:
    """Write ``table`` as a new file of the table folder; earlier runs' files are never touched."""
    folder = output / MONITORING_TABLE
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{generated:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}.parquet"
    partial = folder / f".{name}.partial"  # a leading dot: readers of the folder skip it
    pq.write_table(table, partial)
    os.replace(partial, folder / name)
    return folder / name


def signal_family(signal: str) -> str:
    return "serving" if signal in SERVING_SIGNALS else signal


def summarize(config: MonitorConfig, computed: Computed) -> dict[str, Any]:
    """The summary fields of the result, each over its family's summary window."""
    summary_windows = {family: config.summary_window(family) for family in FAMILIES}
    drift: dict[str, dict[str, float]] = {f: {} for f in config.features}
    quality: dict[str, dict[str, float]] = {f: {} for f in config.features}
    prediction: dict[str, float] = {}
    metrics: dict[str, float] = {}
    for s in computed.statistics:
        if s.window != iso_window(summary_windows[signal_family(s.signal)]):
            continue
        if s.signal == "data_drift":
            drift.setdefault(s.feature, {})[s.metric] = s.value
        elif s.signal == "data_quality":
            quality.setdefault(s.feature, {})[s.metric] = s.value
        elif s.signal == "prediction_drift":
            prediction[s.metric] = s.value
        elif s.signal == "model_metric":
            metrics[s.metric] = s.value
    target_kind = "categorical" if config.task == "classification" else "numerical"
    return {
        "drift": {
            f: values.get(CONVENTIONAL_DRIFT_METRIC.get(computed.kinds.get(f, ""), ""))
            for f, values in drift.items()
        },
        "drift_metrics": drift,
        "feature_kinds": dict(computed.kinds),
        "feature_notes": dict(computed.feature_notes),
        "prediction_drift": prediction.get(CONVENTIONAL_DRIFT_METRIC[target_kind]),
        "prediction_drift_metrics": prediction,
        "data_quality": quality,
        "serving": computed.serving.get(summary_windows["serving"], dict.fromkeys(SERVING_SIGNALS)),
        "model_metrics": metrics,
        "ground_truth_rows": computed.joined_rows.get(summary_windows["model_metric"], 0),
        "windows": {family: iso_window(minutes) for family, minutes in summary_windows.items()},
        "notes": {
            family: computed.notes[(family, minutes)]
            for family, minutes in summary_windows.items()
            if (family, minutes) in computed.notes
        },
    }


def run_monitor(config: Mapping[str, Any], output: Path | str | None = None) -> dict[str, Any]:
    """Compute the statistics and evaluate the alerts of ``config``; see the module docstring.

    With ``output``, the rows are appended to ``<output>/MlspecModelMonitoring_CL/`` and the result
    is written to ``<output>/monitor-result.json``. Raises :class:`ConfigError` for a bad config.
    """
    settings = parse_config(config)
    data = load_data(settings)
    now = anchor_time(settings, data)
    generated = settings.now or datetime.now(UTC)
    computed = compute(settings, data, now)
    table = table_rows(settings, computed.statistics, generated)
    table_file: Path | None = None
    if output is not None and table.num_rows:
        table_file = append_table(table, Path(output), generated)
    result: dict[str, Any] = {
        "rows": table.num_rows,
        "now": now.isoformat(),
        "time_generated": generated.isoformat(),
        "table_file": str(table_file) if table_file else None,
        "task": settings.task,
        "target": settings.target,
        "model_version": settings.model_version or None,
        "prediction_rows": len(data.predictions),
        "other_version_rows": data.other_version_rows,
        **summarize(settings, computed),
        "alerts": [
            evaluate_alert(a, computed, settings.task, settings.min_drift_rows) for a in settings.alerts
        ],
    }
    result = _finite(result)
    if output is not None:
        folder = Path(output)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{RESULT_FILE}.partial"
        partial.write_text(json.dumps(result, indent=2, sort_keys=True, allow_nan=False), encoding="utf-8")
        os.replace(partial, folder / RESULT_FILE)
    return result


def _finite(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def ingest_rows(
    table_file: Path,
    *,
    endpoint: str,
    rule_id: str,
    stream: str,
    credential: Any = None,
    transport: Any = None,
) -> int:
    """Send the rows of one run's table file to a data collection rule's stream; the row count."""
    from azure.monitor.ingestion import LogsIngestionClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    rows: list[MutableMapping[str, Any]] = [_ingestion_row(r) for r in pq.read_table(table_file).to_pylist()]
    options = {"transport": transport} if transport is not None else {}
    errors: list[str] = []

    def failed(error: Any) -> None:
        errors.append(str(error.error))

    with LogsIngestionClient(endpoint=endpoint, credential=credential, **options) as client:
        client.upload(rule_id=rule_id, stream_name=stream, logs=rows, on_error=failed)
    if errors:
        raise OSError(f"the Logs Ingestion API refused rows for {stream}: {errors[0]}")
    return len(rows)


def _ingestion_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One table row as the Logs Ingestion API takes it: ISO 8601 times, JSON numbers."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            out[key] = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        elif isinstance(value, float) and not math.isfinite(value):
            out[key] = None
        else:
            out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compute monitoring statistics and evaluate the alerts.")
    parser.add_argument("--config", required=True, help="monitor.json")
    parser.add_argument("--output", required=True, help="folder of the monitoring table and the result")
    parser.add_argument("--reference", help="the training data folder (replaces the config's reference path)")
    parser.add_argument("--predictions", help="the prediction log folder (replaces the config's)")
    parser.add_argument("--ground-truth", help="ground truth records (replaces the config's)")
    parser.add_argument("--model-version", help="the served model version (replaces the config's)")
    parser.add_argument("--ingestion-endpoint", help="the data collection endpoint's logs ingestion URL")
    parser.add_argument("--rule-id", help="the data collection rule's immutable id (dcr-...)")
    parser.add_argument("--stream", help="the rule's stream, e.g. Custom-MlspecModelMonitoring_CL")
    args = parser.parse_args(argv)
    sending = [args.ingestion_endpoint, args.rule_id, args.stream]
    if any(sending) and not all(sending):
        parser.error("--ingestion-endpoint, --rule-id and --stream go together")
    try:
        config = dict(json.loads(Path(args.config).read_text(encoding="utf-8")))
        if args.reference:
            given = config.get("reference")
            config["reference"] = {**(given if isinstance(given, Mapping) else {}), "path": args.reference}
        for key, value in (
            ("predictions", args.predictions),
            ("ground_truth", args.ground_truth),
            ("model_version", args.model_version),
        ):
            if value:
                config[key] = value
        result = run_monitor(config, Path(args.output))
        sent = 0
        if all(sending) and result["table_file"]:
            sent = ingest_rows(
                Path(result["table_file"]),
                endpoint=args.ingestion_endpoint,
                rule_id=args.rule_id,
                stream=args.stream,
            )
    except (OSError, ValueError) as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 2
    fired = [a["name"] for a in result["alerts"] if a["fired"]]
    print(json.dumps({"rows": result["rows"], "sent": sent, "alerts": len(result["alerts"]), "fired": fired}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
