"""Plots for cohort runs, drawn with matplotlib (Agg) as SVG or PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

# Okabe-Ito colours, distinguishable with the common colour-vision deficiencies.
BLUE, ORANGE, GREEN, GREY = "#0072B2", "#E69F00", "#009E73", "#999999"


def _figure_bytes(figure: Figure, *, fmt: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, bbox_inches="tight", dpi=110)
    return buffer.getvalue()


def robustness_curve_png(*, curves: list[dict], severity_label: str, title: str) -> bytes:
    """One panel per measure: value vs severity with its 95 % CI band.

    `curves`: [{"name": "AUC", "severities": [...], "values": [...], "lows": [...],
    "highs": [...]}, ...]; the unperturbed cohort is severity 0.
    """
    figure = Figure(figsize=(4.2 * max(len(curves), 1), 3.4))
    for position, curve in enumerate(curves, start=1):
        axes = figure.add_subplot(1, max(len(curves), 1), position)
        x = curve["severities"]
        axes.fill_between(x, curve["lows"], curve["highs"], color=BLUE, alpha=0.2, label="95 % CI")
        axes.plot(x, curve["values"], marker="o", color=BLUE, label=curve["name"])
        if curve["name"] == "AUC":
            axes.axhline(0.5, color=GREY, linestyle="--", linewidth=1, label="chance")
        axes.set_ylim(0, 1.02)
        axes.set_xlabel(severity_label)
        axes.set_ylabel(curve["name"])
        axes.grid(alpha=0.3)
        axes.legend(loc="lower left", fontsize=8)
    figure.suptitle(title, fontsize=10)
    return _figure_bytes(figure, fmt="png")


def roc_svg(*, fpr, tpr, point: tuple[float, float], threshold: float, auc_text: str) -> bytes:
    figure = Figure(figsize=(4.2, 4.2))
    axes = figure.add_subplot(1, 1, 1)
    axes.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="chance")
    axes.step(fpr, tpr, where="post", color=BLUE, label=auc_text)
    axes.plot(
        [point[0]],
        [point[1]],
        marker="o",
        markersize=9,
        color=ORANGE,
        label=f"threshold {threshold:.2f}",
    )
    axes.set_xlim(-0.01, 1.01)
    axes.set_ylim(-0.01, 1.01)
    axes.set_xlabel("1 - specificity (false-positive rate)")
    axes.set_ylabel("sensitivity (true-positive rate)")
    axes.set_aspect("equal")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return _figure_bytes(figure, fmt="svg")


def reliability_svg(*, bins: list[dict], ece: float, bin_count: int) -> bytes:
    figure = Figure(figsize=(4.2, 4.2))
    axes = figure.add_subplot(1, 1, 1)
    axes.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="perfect")
    width = 1.0 / bin_count
    axes.bar(
        [row["low"] for row in bins],
        [row["observed"] for row in bins],
        width=width,
        align="edge",
        color=BLUE,
        alpha=0.6,
        edgecolor="white",
        label="share with a lesion",
    )
    axes.plot(
        [row["confidence"] for row in bins],
        [row["observed"] for row in bins],
        marker="o",
        color=ORANGE,
        linestyle="none",
        label="bin mean score",
    )
    for row in bins:
        axes.annotate(
            str(row["cases"]),
            (row["low"] + width / 2, row["observed"]),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.05)
    axes.set_xlabel("predicted probability (bin)")
    axes.set_ylabel("observed share of lesion cases")
    axes.set_title(f"ECE {ece:.3f} ({bin_count} equal-width bins; n per bar)", fontsize=9)
    axes.set_aspect("equal")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    return _figure_bytes(figure, fmt="svg")
