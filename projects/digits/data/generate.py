"""Write deterministic sample data for every source of the digits project into a local lake.

    python data/generate.py --lake .mlspec/lake [--account contosoopsdev]

``abfss://<container>@<account>.dfs.core.windows.net/<path>`` maps to
``<lake>/<account>/<container>/<path>``. The 1,797 handwritten digits bundled with
scikit-learn (``load_digits``, 8x8, no download) become what the scanning stations upload:

- ``scans/images/batch-NNNN/scan_NNNNNN.png``  32x32 grayscale PNGs with scanner noise
  (plus each batch's ``manifest.txt``, which the source's ``glob: "*.png"`` skips)
- ``scans/labels/batch-NNNN.tsv``               text: ``image<TAB>label<TAB>annotator``,
  a ``#`` header line, a second opinion for some images, some images not labelled yet
- ``scans/events/dt=YYYY-MM-DD/events.json``    JSON lines from the stations: uploads
  (with retries and latency), failed uploads and heartbeats, station details nested

PNGs are written with zlib + struct only (no Pillow), choosing a scanline filter per row
the way libpng does, so the decoder in ``transforms/decode_scans.py`` sees real PNGs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

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


def lake_folder(lake: Path, account: str, location: tuple[str, str]) -> Path:
    container, path = location
    folder = lake / account / container / path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- PNG encoding (8-bit grayscale) ------------------------------------------------------


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _filtered_rows(image: np.ndarray) -> bytes:
    """Each scanline with the filter (None, Sub, Up, Average, Paeth) giving the smallest residuals."""
    pixels = image.astype(np.int32)
    left, up, up_left = (np.zeros_like(pixels) for _ in range(3))
    left[:, 1:] = pixels[:, :-1]
    up[1:, :] = pixels[:-1, :]
    up_left[1:, 1:] = pixels[:-1, :-1]
    candidates = np.stack(
        [pixels, pixels - left, pixels - up, pixels - (left + up) // 2, pixels - _paeth(left, up, up_left)]
    )
    residuals = (candidates % 256).astype(np.uint8)  # (filter, row, column)
    # libpng's heuristic: minimise the sum of the residuals read as signed bytes
    costs = np.abs(residuals.astype(np.int8).astype(np.int32)).sum(axis=2)
    best = costs.argmin(axis=0)
    chosen = residuals[best, np.arange(pixels.shape[0])]
    return np.concatenate([best[:, None].astype(np.uint8), chosen], axis=1).tobytes()


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, software: str) -> bytes:
    height, width = image.shape
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"tEXt", b"Software\x00" + software.encode())
        + _chunk(b"IDAT", zlib.compress(_filtered_rows(image), 9))
        + _chunk(b"IEND", b"")
    )


def scan(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An 8x8 digit (0..16, ink high) as a 32x32 scan (0..255) with sensor noise."""
    gray = np.kron(digit * 255.0 / 16.0, np.ones((SCALE, SCALE)))
    return np.clip(np.rint(gray + rng.normal(0.0, 4.0, gray.shape)), 0, 255).astype(np.uint8)


# --- the data --------------------------------------------------------------------------------


def generate(lake: Path, account: str) -> dict[str, int]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    images: np.ndarray = digits.images
    target: np.ndarray = digits.target
    rng = np.random.default_rng(SEED)
    image_root = lake_folder(lake, account, IMAGES_PATH)
    label_root = lake_folder(lake, account, LABELS_PATH)
    event_root = lake_folder(lake, account, EVENTS_PATH)
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
        "--lake", type=Path, required=True, help="local lake folder (abfss paths map below it)"
    )
    parser.add_argument(
        "--account", default=DEFAULT_ACCOUNT, help=f"storage account name (default {DEFAULT_ACCOUNT})"
    )
    args = parser.parse_args(argv)
    for source, rows in generate(args.lake, args.account).items():
        print(f"{source}: {rows} rows")


if __name__ == "__main__":
    main()
