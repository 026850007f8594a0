"""Decode scanned digit images into pixel features and attach their agreed labels.

Inputs (by name, as DataFrames):

- ``digit_scans``: Spark's ``binaryFile`` source (``path``, ``modificationTime``,
  ``length``, ``content``), PNGs only (the source's glob).
- ``scan_labels``: Spark's ``text`` source (one ``value`` per line), lines
  ``image<TAB>label<TAB>annotator``; ``#`` lines are headers. An image labelled twice is
  kept only when the annotators agree.

Each PNG is decoded here, in plain Python (zlib + struct, no Pillow on the Spark pool),
averaged down to an 8x8 grid and scaled to 0..16 — the representation the classifier is
trained on. ``ink`` is the mean of the 64 cells. Images that cannot be decoded are dropped
(and show up as a lower ``row_count``). PySpark is imported inside ``transform`` so the
module imports where PySpark is absent.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

GRID = 8
MAX_LEVEL = 16.0
PIXEL_COLUMNS = [f"px_{row}_{col}" for row in range(GRID) for col in range(GRID)]
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> list[list[int]]:
    """Grayscale rows (0..255) of an 8-bit, non-interlaced PNG (gray, gray+alpha, RGB or RGBA)."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG file")
    position, header, idat = len(_SIGNATURE), b"", bytearray()
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        tag = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if tag == b"IHDR":
            header = body
        elif tag == b"IDAT":
            idat += body
        elif tag == b"IEND":
            break
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: bit depth {depth}, colour type {colour}, interlace {interlace}")
    channels = _CHANNELS[colour]
    stride = width * channels
    raw = zlib.decompress(bytes(idat))
    previous = bytearray(stride)
    rows: list[list[int]] = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            up_left = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[x] = (line[x] + _paeth(left, up, up_left)) & 0xFF
            elif kind != 0:
                raise ValueError(f"bad filter type {kind} in row {y}")
        previous = line
        if channels <= 2:
            rows.append([line[x] for x in range(0, stride, channels)])
        else:  # ITU-R BT.601 luma
            rows.append(
                [
                    round(0.299 * line[x] + 0.587 * line[x + 1] + 0.114 * line[x + 2])
                    for x in range(0, stride, channels)
                ]
            )
    return rows


def pixel_features(data: bytes) -> list[float] | None:
    """The image as GRID x GRID cell means scaled to 0..16, row by row; ``None`` if undecodable."""
    try:
        rows = decode_png(bytes(data))
    except (ValueError, zlib.error, struct.error):
        return None
    height, width = len(rows), len(rows[0])
    cells: list[float] = []
    for r in range(GRID):
        top, bottom = r * height // GRID, (r + 1) * height // GRID
        for c in range(GRID):
            left, right = c * width // GRID, (c + 1) * width // GRID
            block = [value for row in rows[top:bottom] for value in row[left:right]]
            cells.append(round(sum(block) / len(block) / 255.0 * MAX_LEVEL, 3))
    return cells


def transform(spark: Any, **inputs: Any) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    scans = inputs["digit_scans"]
    labels = inputs["scan_labels"]

    features = F.udf(pixel_features, T.ArrayType(T.DoubleType()))
    pixels = scans.select(
        F.element_at(F.split("path", "/"), -1).alias("image_id"),
        features("content").alias("px"),
    ).where(F.col("px").isNotNull())

    fields = F.split(F.trim("value"), "\t")
    annotations = (
        labels.where(~F.col("value").startswith("#") & (F.trim("value") != ""))
        .select(fields[0].alias("image_id"), fields[1].cast("int").alias("label"))
        .where(F.col("label").isNotNull())
    )
    agreed = (
        annotations.groupBy("image_id")
        .agg(F.countDistinct("label").alias("opinions"), F.first("label").alias("label"))
        .where(F.col("opinions") == 1)
        .drop("opinions")
    )

    ink = F.aggregate("px", F.lit(0.0), lambda total, value: total + value) / F.lit(float(GRID * GRID))
    return pixels.join(agreed, "image_id").select(
        "image_id",
        "label",
        F.round(ink, 3).alias("ink"),
        *[F.col("px")[i].alias(name) for i, name in enumerate(PIXEL_COLUMNS)],
    )
