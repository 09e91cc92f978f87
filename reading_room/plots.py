"""Plots of stored simulation results, drawn by matplotlib as SVG (no Django here).

Figures are built with `matplotlib.figure.Figure` directly, not pyplot: no global state,
so concurrent requests cannot draw into each other's figures.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

CRITICAL_COLOUR = "#c0392b"
ROUTINE_COLOUR = "#2c6fbb"
POLICY_ORDER = ("fifo", "flag", "priority")


def _svg(figure: Figure) -> bytes:
    """SVG with real <text> (not glyph outlines): smaller, selectable, read by screen readers."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _values(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def triage_time_to_report(results: dict, *, threshold: float) -> bytes:
    """Box plots of time to report per policy, critical and non-critical side by side."""
    figure = Figure(figsize=(7.5, 4.2))
    axes = figure.subplots()
    critical = np.array(results["is_critical"], dtype=bool)
    positions, data, colours, labels = [], [], [], []
    for slot, key in enumerate(POLICY_ORDER):
        policy = results["policies"][key]
        times = np.array(policy["time_to_report_min"], dtype=float)
        for offset, (group, colour) in enumerate(
            ((critical, CRITICAL_COLOUR), (~critical, ROUTINE_COLOUR))
        ):
            positions.append(slot * 3 + offset)
            data.append(times[group] if group.any() else np.array([np.nan]))
            colours.append(colour)
        title = policy["title"] + (f"\n(flag ≥ {threshold:.2f})" if key == "flag" else "")
        labels.append((slot * 3 + 0.5, title))
    boxes = axes.boxplot(
        data, positions=positions, widths=0.8, patch_artist=True, showmeans=True, whis=(0, 90)
    )
    for patch, colour in zip(boxes["boxes"], colours, strict=True):
        patch.set_facecolor(colour)
        patch.set_alpha(0.55)
    axes.set_xticks([x for x, _ in labels], [text for _, text in labels])
    axes.set_ylabel("Time to report (minutes)")
    axes.set_title("Time to report by reading order (whiskers: minimum to 90th percentile)")
    axes.legend(
        [boxes["boxes"][0], boxes["boxes"][1]],
        [f"critical ({int(critical.sum())})", f"non-critical ({int((~critical).sum())})"],
        loc="upper left",
    )
    axes.grid(axis="y", alpha=0.3)
    return _svg(figure)


def triage_day(results: dict, *, policy: str) -> bytes:
    """Each study's time to report against its arrival: FIFO vs the chosen policy."""
    figure = Figure(figsize=(7.5, 4.2))
    axes = figure.subplots(1, 2, sharey=True)
    critical = np.array(results["is_critical"], dtype=bool)
    arrival = np.array(results["arrival_min"], dtype=float) / 60.0
    for ax, key in zip(axes, ("fifo", policy), strict=True):
        times = np.array(results["policies"][key]["time_to_report_min"], dtype=float)
        ax.scatter(
            arrival[~critical], times[~critical], s=12, c=ROUTINE_COLOUR, label="non-critical"
        )
        ax.scatter(
            arrival[critical],
            times[critical],
            s=28,
            c=CRITICAL_COLOUR,
            marker="D",
            label="critical",
        )
        ax.set_title(results["policies"][key]["title"])
        ax.set_xlabel("Arrival (hours into the shift)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Time to report (minutes)")
    axes[0].legend(loc="upper left")
    return _svg(figure)


PATHWAY_STYLES = {
    "single": ("Single reading", ":", "grey"),
    "double": ("Double reading + arbitration", "-", "black"),
    "masai": ("MASAI-style", "-", ROUTINE_COLOUR),
    "screentrust": ("ScreenTrustCAD-style", "--", CRITICAL_COLOUR),
}


def screening_workload(results: dict) -> bytes:
    """Reads saved against cancers missed at screening for the AI pathways over every
    threshold; double and single reading as points, the chosen threshold marked."""
    sweep, pathways = results["sweep"], results["pathways"]
    figure = Figure(figsize=(6.8, 4.4))
    axes = figure.subplots()
    per_thousand = 1000.0 / results["cases"]
    for key in ("masai", "screentrust"):
        title, style, colour = PATHWAY_STYLES[key]
        axes.plot(
            100 * _values(sweep[f"{key}_workload_vs_double"]),
            per_thousand * _values(sweep[f"{key}_cancers_missed"]),
            style,
            color=colour,
            label=f"{title} (all thresholds)",
        )
        chosen = pathways[key]
        axes.plot(
            [100 * chosen["workload_vs_double"]],
            [chosen["interval_per_1000"]],
            "o",
            color=colour,
            markersize=8,
        )
    for key, marker in (("double", "s"), ("single", "^")):
        title, _style, colour = PATHWAY_STYLES[key]
        axes.plot(
            [100 * pathways[key]["workload_vs_double"]],
            [pathways[key]["interval_per_1000"]],
            marker,
            color=colour,
            markersize=8,
            label=title,
        )
    axes.plot([], [], "o", color="black", label=f"dots: your threshold {results['threshold']:.2f}")
    axes.set_xlabel("Human reads saved compared with double reading (%)")
    axes.set_ylabel("Cancers missed at screening per 1000")
    axes.set_title("Workload against cancers missed at screening")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    return _svg(figure)


def screening_roc(results: dict) -> bytes:
    """The AI's ROC curve on the simulated population with the chosen operating point and
    the human pathways' operating points."""
    sweep = results["sweep"]
    figure = Figure(figsize=(4.8, 4.6))
    axes = figure.subplots()
    axes.plot(
        _values(sweep["ai_false_positive_rate"]),
        _values(sweep["ai_true_positive_rate"]),
        color=ROUTINE_COLOUR,
        label="AI alone",
    )
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    if (
        results["ai_true_positive_rate"] is not None
        and results["ai_false_positive_rate"] is not None
    ):
        axes.plot(
            [results["ai_false_positive_rate"]],
            [results["ai_true_positive_rate"]],
            "o",
            color="black",
            markersize=8,
            label=f"AI at threshold {results['threshold']:.2f}",
        )
    for key, marker in (("single", "^"), ("double", "s"), ("masai", "D"), ("screentrust", "v")):
        pathway = results["pathways"][key]
        if pathway["sensitivity"] is None or pathway["specificity"] is None:
            continue
        title, _style, colour = PATHWAY_STYLES[key]
        axes.plot(
            [1 - pathway["specificity"]],
            [pathway["sensitivity"]],
            marker,
            color=colour,
            label=title,
        )
    axes.set_xlabel("False-positive rate (1 - specificity)")
    axes.set_ylabel("True-positive rate (sensitivity)")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.set_aspect("equal")
    axes.set_title("ROC curve and operating points")
    axes.legend(loc="lower right", fontsize="x-small")
    axes.grid(alpha=0.3)
    return _svg(figure)


def screening_ppv(results: dict, *, prevalence: float) -> bytes:
    """PPV of recall against prevalence for every pathway."""
    curve = results["ppv_curve"]
    figure = Figure(figsize=(6.5, 4.2))
    axes = figure.subplots()
    x = 100 * np.array(curve["prevalence"])
    for key, (title, style, colour) in PATHWAY_STYLES.items():
        axes.plot(x, 100 * _values(curve[key]), style, color=colour, label=title)
    axes.axvline(100 * prevalence, color="black", linewidth=1)
    axes.text(100 * prevalence, 2, f" this programme: {100 * prevalence:.2g} %", fontsize="small")
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:g}"))
    axes.set_xlabel("Prevalence (%)")
    axes.set_ylabel("PPV: recalled cases that are cancer (%)")
    axes.set_ylim(0, 100)
    axes.set_title("How prevalence changes PPV (same sensitivity and specificity)")
    axes.grid(alpha=0.3, which="both")
    axes.legend(loc="upper left", fontsize="small")
    return _svg(figure)


PLOTS: dict[str, dict[str, Callable]] = {
    "triage": {
        "time-to-report": lambda run: triage_time_to_report(run.results, threshold=run.threshold),
        "day": lambda run: triage_day(run.results, policy=run.policy or "flag"),
    },
    "screening": {
        "workload": lambda run: screening_workload(run.results),
        "roc": lambda run: screening_roc(run.results),
        "ppv": lambda run: screening_ppv(run.results, prevalence=run.parameters["prevalence"]),
    },
}
