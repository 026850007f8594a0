"""The report's charts: matplotlib figures rendered to inline SVG.

Figures are made with ``matplotlib.figure.Figure`` (no pyplot, so no global state and no GUI
backend) and saved as SVG with text kept as text, a fixed ``svg.hashsalt`` and no date in the
metadata, so the same data gives the same bytes and the report stays diffable. The SVG is embedded
in the page as it is: no file, no CDN, nothing fetched.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path
from matplotlib.ticker import MaxNLocator, PercentFormatter
from numpy.typing import NDArray

from mlspec.runtime.monitor_program import drift_range

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

_RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "mlspec-report",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
}
REFERENCE_COLOR = "#7f8c9a"
PRODUCTION_COLOR = "#d9822b"
ACCENT = "#2b6cb0"
_PALETTE = ("#2b6cb0", "#d9822b", "#38a169", "#c53030", "#805ad5", "#d69e2e", "#319795", "#b83280")
MAX_CATEGORIES = 12
MAX_LABEL = 24


def to_svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element (the XML prolog and doctype dropped)."""
    buffer = io.StringIO()
    with mpl.rc_context(_RC):
        # The figure is laid out "constrained" already; bbox_inches="tight" would draw it twice.
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :].strip()


def _figure(
    width: float = 5.2, height: float = 3.0, *, layout: Literal["constrained"] | None = "constrained"
) -> Figure:
    with mpl.rc_context(_RC):
        return Figure(figsize=(width, height), layout=layout)


def _short(label: object) -> str:
    text = str(label)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


# --- spec visuals ----------------------------------------------------------------------------


def bar_chart(
    labels: Sequence[object], values: Sequence[float], *, horizontal: bool, value_label: str
) -> str:
    figure = _figure(5.2, max(2.4, 0.28 * len(labels) + 0.8) if horizontal else 3.0)
    with mpl.rc_context(_RC):
        axes = figure.subplots()
        names = [_short(label) for label in labels]
        if horizontal:
            axes.barh(names[::-1], list(values)[::-1], color=ACCENT)
            axes.set_xlabel(value_label)
        else:
            axes.bar(names, list(values), color=ACCENT)
            axes.set_ylabel(value_label)
            if len(names) > 8 or max((len(n) for n in names), default=0) > 6:
                axes.tick_params(axis="x", labelrotation=60)
    return to_svg(figure)


def line_chart(labels: Sequence[object], values: Sequence[float], *, value_label: str) -> str:
    figure = _figure()
    with mpl.rc_context(_RC):
        axes = figure.subplots()
        positions = np.arange(len(labels))
        axes.plot(positions, list(values), marker="o", color=ACCENT)
        step = max(1, len(labels) // 10)
        axes.set_xticks(
            positions[::step], [_short(label) for label in labels][::step], rotation=30, ha="right"
        )
        axes.set_ylabel(value_label)
    return to_svg(figure)


def pie_chart(labels: Sequence[object], values: Sequence[float]) -> str:
    figure = _figure(4.6, 3.2)
    with mpl.rc_context(_RC):
        axes = figure.subplots()
        colors = [_PALETTE[i % len(_PALETTE)] for i in range(len(values))]
        axes.pie(list(values), labels=[_short(label) for label in labels], colors=colors, autopct="%1.0f%%")
        axes.set_aspect("equal")
    return to_svg(figure)


def scatter_chart(x: Sequence[float], y: Sequence[float], *, x_label: str, y_label: str) -> str:
    figure = _figure()
    with mpl.rc_context(_RC):
        axes = figure.subplots()
        axes.scatter(list(x), list(y), s=9, alpha=0.6, color=ACCENT, linewidths=0)
        axes.set_xlabel(x_label)
        axes.set_ylabel(y_label)
    return to_svg(figure)


# --- the model -------------------------------------------------------------------------------


def roc_chart(curves: Sequence[tuple[str, NDArray[np.float64], NDArray[np.float64], float]]) -> str:
    """ROC curves: ``(label, false positive rates, true positive rates, area)`` each; the legend
    names the positive class of each ("class 1, AUC 0.894")."""
    figure = _figure(4.2, 3.6)
    with mpl.rc_context(_RC):
        axes = figure.subplots()
        for index, (label, fpr, tpr, area) in enumerate(curves):
            color = _PALETTE[index % len(_PALETTE)]
            axes.plot(fpr, tpr, color=color, label=f"class {_short(label)}, AUC {area:.3f}")
        axes.plot([0, 1], [0, 1], linestyle="--", color=REFERENCE_COLOR, linewidth=0.8)
        axes.set_xlabel("False positive rate")
        axes.set_ylabel("True positive rate")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.legend(loc="lower right", fontsize=8)
    return to_svg(figure)


def confusion_chart(matrix: NDArray[np.int64], labels: Sequence[object]) -> str:
    size = max(3.0, 0.5 * len(labels) + 1.6)
    figure = _figure(size + 0.6, size)
    with mpl.rc_context(_RC):
        axes = figure.subplots()
        image = axes.imshow(matrix, cmap="Blues")
        figure.colorbar(image, ax=axes, shrink=0.8)
        names = [_short(label) for label in labels]
        axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
        axes.set_yticks(range(len(names)), names)
        axes.set_xlabel("Predicted")
        axes.set_ylabel("Actual")
        threshold = matrix.max() / 2 if matrix.size else 0
        for (row, column), count in np.ndenumerate(matrix):
            color = "white" if count > threshold else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=color)
    return to_svg(figure)


def residual_chart(
    predicted: NDArray[np.float64],
    residuals: NDArray[np.float64],
    *,
    counts: NDArray[np.float64],
    edges: NDArray[np.float64],
) -> str:
    """Residuals against predictions, and their distribution (a histogram counted beforehand:
    ``counts`` rows between consecutive ``edges``)."""
    figure = _figure(7.0, 3.0)
    with mpl.rc_context(_RC):
        scatter, histogram = figure.subplots(1, 2, width_ratios=[3, 2])
        scatter.scatter(predicted, residuals, s=9, alpha=0.6, color=ACCENT, linewidths=0)
        scatter.axhline(0.0, color=REFERENCE_COLOR, linestyle="--", linewidth=0.8)
        scatter.set_xlabel("Predicted")
        scatter.set_ylabel("Residual (actual - predicted)")
        histogram.stairs(counts, edges, fill=True, color=ACCENT)
        histogram.set_xlabel("Residual")
        histogram.set_ylabel("Rows")
    return to_svg(figure)


# --- drift -----------------------------------------------------------------------------------


def numeric_drift_chart(reference: NDArray[np.float64], production: NDArray[np.float64]) -> str:
    """The share of reference and production rows in each of the same bins.

    Drawn as two step outlines (one artist each rather than a patch per bar) on fixed margins:
    a wide model has a figure per feature, and constrained layout would measure every one of
    them twice over. The y axis is a share (``0%`` to ``100%``), so its labels fit the margin.
    """
    figure = _figure(4.4, 2.4, layout=None)
    figure.subplots_adjust(left=0.15, right=0.97, bottom=0.19, top=0.88)
    with mpl.rc_context(_RC):
        axes = figure.subplots()
        # As the distance measures them: far outliers sit at the edge instead of stretching the axis.
        low, high = drift_range(reference)
        production = np.clip(production, low, high)
        edges = _bin_edges(np.concatenate([reference, production]))
        styles: tuple[tuple[NDArray[np.float64], dict[str, Any]], ...] = (
            (reference, {"fill": True, "alpha": 0.55, "color": REFERENCE_COLOR, "label": "reference"}),
            (production, {"linewidth": 1.6, "color": PRODUCTION_COLOR, "label": "production"}),
        )
        for values, style in styles:
            counts, _ = np.histogram(values, bins=edges)
            axes.stairs(counts / max(values.size, 1), edges, **style)
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        # Few x ticks, large or tiny values as a power of ten at the axis end: labels never overlap.
        axes.xaxis.set_major_locator(MaxNLocator(nbins=6))
        axes.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
        axes.set_ylabel("Rows")
        # Above the plot, beside the title: inside it would hide bars.
        axes.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, frameon=False)
    return to_svg(figure)


def _bin_edges(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """A bin per value for few whole numbers (counts, pixel levels), else up to 30 even bins."""
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if np.all(np.mod(values, 1) == 0) and high - low < 30:
        return np.arange(low - 0.5, high + 1.0)
    return np.histogram_bin_edges(values, bins=min(30, max(5, int(np.sqrt(values.size)))))


def categorical_drift_chart(reference: Sequence[str], production: Sequence[str]) -> str:
    """Shares of the most common reference levels (the rest summed as 'other') side by side."""
    ref_counts = _counts(reference)
    prod_counts = _counts(production)
    order = sorted(
        set(ref_counts) | set(prod_counts), key=lambda k: (-ref_counts.get(k, 0), -prod_counts.get(k, 0), k)
    )
    shown, rest = order[:MAX_CATEGORIES], order[MAX_CATEGORIES:]

    def shares(counts: dict[str, int]) -> list[float]:
        total = sum(counts.values()) or 1
        values = [counts.get(k, 0) / total for k in shown]
        return [*values, sum(counts.get(k, 0) for k in rest) / total] if rest else values

    labels = [_short(label) for label in ([*shown, "other"] if rest else shown)]
    # Levels down the side, so that their names read across; the most common on top.
    width, height = 4.4, max(1.7, 0.7 + 0.27 * len(labels))
    figure = _figure(width, height, layout=None)
    left = (_text_width_inches(labels) + 0.2) / width
    figure.subplots_adjust(left=min(left, 0.5), right=0.97, bottom=0.45 / height, top=1 - 0.3 / height)
    with mpl.rc_context(_RC):
        axes = figure.subplots()
        positions = np.arange(len(labels))[::-1]
        axes.barh(positions + 0.2, shares(ref_counts), height=0.4, color=REFERENCE_COLOR, label="reference")
        axes.barh(
            positions - 0.2, shares(prod_counts), height=0.4, color=PRODUCTION_COLOR, label="production"
        )
        axes.set_yticks(positions, labels)
        axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.set_xlabel("Rows")
        axes.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, frameon=False)
    return to_svg(figure)


def _text_width_inches(texts: Sequence[str]) -> float:
    """How wide the widest of ``texts`` is in the report's tick font.

    Drift figures are laid out by hand from this one measurement: constrained layout measures every
    artist of a figure, twice, and is most of the time a wide model's report takes to draw.
    """
    with mpl.rc_context(_RC):
        font = FontProperties(size=mpl.rcParams["ytick.labelsize"])
        widths = [text_to_path.get_text_width_height_descent(t, font, ismath=False)[0] for t in texts]
    return max(widths, default=0.0) / 72.0  # points


def _counts(keys: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return counts
