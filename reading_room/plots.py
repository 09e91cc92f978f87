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


def screening_workload(results: dict) -> bytes:
    """Human reads saved against cancers missed, over every threshold; the chosen one marked."""
    sweep, outcome = results["sweep"], results["outcome"]
    figure = Figure(figsize=(6.5, 4.2))
    axes = figure.subplots()
    per_thousand = 1000.0 / outcome["cases"]
    axes.plot(
        100 * _values(sweep["workload_reduction"]),
        per_thousand * _values(sweep["cancers_missed"]),
        color=ROUTINE_COLOUR,
        label="all missed cancers (AI-cleared + not recalled by the reader)",
    )
    axes.plot(
        100 * _values(sweep["workload_reduction"]),
        per_thousand * _values(sweep["ai_missed_cancers"]),
        color=CRITICAL_COLOUR,
        linestyle="--",
        label="cleared by the AI without a read",
    )
    axes.plot(
        [100 * outcome["workload_reduction"]],
        [per_thousand * outcome["cancers_missed"]],
        "o",
        color="black",
        markersize=8,
        label=f"your threshold {outcome['threshold']:.2f}",
    )
    axes.set_xlabel("Human reads saved (%)")
    axes.set_ylabel("Cancers missed per 1000 screened")
    axes.set_title("Workload against missed cancers")
    axes.set_xlim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    return _svg(figure)


def screening_roc(results: dict) -> bytes:
    """The AI's ROC curve on the simulated population with the chosen operating point."""
    sweep, outcome = results["sweep"], results["outcome"]
    figure = Figure(figsize=(4.8, 4.6))
    axes = figure.subplots()
    axes.plot(
        _values(sweep["ai_false_positive_rate"]),
        _values(sweep["ai_true_positive_rate"]),
        color=ROUTINE_COLOUR,
        label="AI (not cleared = positive)",
    )
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    if (
        outcome["ai_true_positive_rate"] is not None
        and outcome["ai_false_positive_rate"] is not None
    ):
        axes.plot(
            [outcome["ai_false_positive_rate"]],
            [outcome["ai_true_positive_rate"]],
            "o",
            color="black",
            markersize=8,
            label=f"threshold {outcome['threshold']:.2f}",
        )
    axes.set_xlabel("False-positive rate (1 - specificity)")
    axes.set_ylabel("True-positive rate (sensitivity)")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.set_aspect("equal")
    axes.set_title("ROC curve and operating point")
    axes.legend(loc="lower right", fontsize="small")
    axes.grid(alpha=0.3)
    return _svg(figure)


def screening_ppv(results: dict, *, prevalence: float) -> bytes:
    """PPV against prevalence for the pathway, the reader alone and the AI alone."""
    curve = results["ppv_curve"]
    figure = Figure(figsize=(6.5, 4.2))
    axes = figure.subplots()
    x = 100 * np.array(curve["prevalence"])
    for key, label, style in (
        ("pathway", "AI first, then the reader", "-"),
        ("human_alone", "reader alone (no AI)", "--"),
        ("ai_alone", "AI alone at this threshold", ":"),
    ):
        axes.plot(x, 100 * _values(curve[key]), style, label=label)
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
