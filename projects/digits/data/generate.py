"""Write deterministic sample data for every source of the digits project into a local lake.

    python data/generate.py --lake .mlspec/lake [--account contosoopsdev]

``mlspec run`` runs it the same way, with ``MLSPEC_SOURCES`` holding each source's local folder
(``{"digit_scans": {"url": ..., "path": ..., "format": "binary"}, ...}``); those folders are
used when it is set. Otherwise ``abfss://<container>@<account>.dfs.core.windows.net/<path>``
maps to ``<lake>/<account>/<container>/<path>``. The 1,797 handwritten digits bundled with
scikit-learn (``load_digits``, 8x8, no download) become what the scanning stations upload:

- ``scans/images/batch-NNNN/scan_NNNNNN.png``  32x32 grayscale PNGs with scanner noise
  (plus each batch's ``manifest.txt``, which the source's ``glob: "*.png"`` skips)
- ``scans/labels/batch-NNNN.tsv``               text: ``image<TAB>label<TAB>annotator``,
  a ``#`` header line, a second opinion for some images, some images not labelled yet
- ``scans/events/dt=YYYY-MM-DD/events.json``    JSON lines from the stations: uploads
  (with retries and latency), failed uploads and heartbeats, station details nested

PNGs are encoded by Pillow (with its adaptive per-row scanline filters), so the plain-Python
decoder in ``transforms/decode_scans.py`` meets the PNGs a real imaging library writes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

DEFAULT_ACCOUNT = "contosoopsdev"  # the dev environment's lake_account
SEED = 3
SCALE = 4  # 8x8 digits scanned at 32x32
BATCH_SIZE = 200
STATIONS = [
    ("ST-01", "warehouse-hamburg", "2.4.1"),
    ("ST-02", "warehouse-hamburg", "2.4.1"),
    ("ST-03", "warehouse-lyon", "2.3.7"),
    ("ST-04", "office-madrid", "2.4.0"),
]

# --- where each source lives (container, path) — keep in sync with mlproject.yaml ----------
IMAGES_PATH = ("ops", "scans/images")
LABELS_PATH = ("ops", "scans/labels")
EVENTS_PATH = ("ops", "scans/events")


SOURCES_VARIABLE = "MLSPEC_SOURCES"


def source_folders(lake: Path | None, account: str) -> dict[str, Path]:
    """Each source's local folder: from ``MLSPEC_SOURCES`` when set, else below ``lake``/``account``."""
    expected = {
        "digit_scans": (IMAGES_PATH, "binary"),
        "scan_labels": (LABELS_PATH, "text"),
        "scan_events": (EVENTS_PATH, "json"),
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


def encode_png(image: np.ndarray, software: str) -> bytes:
    """An 8-bit grayscale PNG of ``image`` with a Software text chunk, as a scanner writes it."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", software)
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG", pnginfo=info, optimize=True)
    return out.getvalue()


def scan(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An 8x8 digit (0..16, ink high) as a 32x32 scan (0..255) with sensor noise."""
    gray = np.kron(digit * 255.0 / 16.0, np.ones((SCALE, SCALE)))
    return np.clip(np.rint(gray + rng.normal(0.0, 4.0, gray.shape)), 0, 255).astype(np.uint8)


# --- the data --------------------------------------------------------------------------------


def generate(folders: dict[str, Path]) -> dict[str, int]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    images: np.ndarray = digits.images
    target: np.ndarray = digits.target
    rng = np.random.default_rng(SEED)
    image_root = folders["digit_scans"]
    label_root = folders["scan_labels"]
    event_root = folders["scan_events"]
    start = dt.datetime(2024, 6, 3, 6, 0, tzinfo=dt.UTC)

    events: dict[str, list[dict[str, Any]]] = {}

    def emit(moment: dt.datetime, event: dict[str, Any]) -> None:
        day = moment.date().isoformat()
        bucket = events.setdefault(day, [])
        bucket.append(
            {
                "event_id": f"ev-{day}-{len(bucket):05d}",
                "ts": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                **event,
            }
        )

    labelled = 0
    for batch_start in range(0, len(target), BATCH_SIZE):
        batch = f"batch-{batch_start // BATCH_SIZE + 1:04d}"
        folder = image_root / batch
        folder.mkdir(exist_ok=True)
        station_id, site, firmware = STATIONS[(batch_start // BATCH_SIZE) % len(STATIONS)]
        station = {"id": station_id, "site": site, "firmware": firmware}
        moment = start + dt.timedelta(days=batch_start // BATCH_SIZE, hours=float(rng.uniform(0, 3)))
        label_lines = ["# image\tlabel\tannotator"]
        manifest = []
        for index in range(batch_start, min(batch_start + BATCH_SIZE, len(target))):
            name = f"scan_{index + 1:06d}.png"
            png = encode_png(scan(images[index], rng), f"scanstation {firmware}")
            (folder / name).write_bytes(png)
            manifest.append(f"{name} {len(png)}")
            moment += dt.timedelta(seconds=float(rng.exponential(20.0)))
            attempts = 1 + int(rng.random() < 0.06)
            for attempt in range(attempts):
                emit(
                    moment,
                    {
                        "event": "scan_uploaded" if attempt == attempts - 1 else "upload_failed",
                        "station": station,
                        "image": f"{batch}/{name}",
                        "bytes": len(png),
                        "latency_ms": int(rng.gamma(3.0, 40.0 if site != "office-madrid" else 90.0)),
                        "status": "retry" if attempts > 1 else "ok",
                    },
                )
            if rng.random() < 0.03:
                continue  # not labelled yet: stays out of the training set
            annotator = f"annotator-{int(rng.integers(1, 7)):02d}"
            label_lines.append(f"{name}\t{target[index]}\t{annotator}")
            if rng.random() < 0.05:  # a second opinion during QA
                label_lines.append(f"{name}\t{target[index]}\tannotator-qa")
            labelled += 1
        (folder / "manifest.txt").write_text("\n".join(manifest) + "\n")
        (label_root / f"{batch}.tsv").write_text("\n".join(label_lines) + "\n")
        for hour in range(0, 24, 6):
            for station_id, site, firmware in STATIONS:
                beat = dt.datetime.combine(moment.date(), dt.time(hour), tzinfo=dt.UTC)
                emit(
                    beat,
                    {"event": "heartbeat", "station": {"id": station_id, "site": site, "firmware": firmware}},
                )

    count = 0
    for day, bucket in sorted(events.items()):
        folder = event_root / f"dt={day}"
        folder.mkdir(exist_ok=True)
        bucket.sort(key=lambda e: e["ts"])
        (folder / "events.json").write_text(
            "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in bucket)
        )
        count += len(bucket)
    return {"digit_scans": len(target), "scan_labels": labelled, "scan_events": count}


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
