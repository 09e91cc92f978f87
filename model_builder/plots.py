"""Learning curves as SVG (matplotlib, Agg backend), drawn from a run's history."""

from __future__ import annotations

import io
import itertools

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt
from matplotlib.ticker import MaxNLocator


def learning_curves_svg(*, history: list[dict], epochs: int, title: str = "") -> bytes:
    """Loss (training and held-out) and held-out AUC per epoch; a dashed line marks where
    another worker took over and resumed from the checkpoint."""
    figure, (loss_axes, auc_axes) = plt.subplots(1, 2, figsize=(8.4, 3.2), dpi=100)
    done = [row["epoch"] for row in history]
    loss_axes.plot(done, [row["train_loss"] for row in history], "o-", label="training loss")
    loss_axes.plot(done, [row["test_loss"] for row in history], "s--", label="held-out loss")
    auc_axes.plot(
        done,
        [row["test_auc"] if row["test_auc"] is not None else float("nan") for row in history],
        "o-",
        color="tab:green",
        label="held-out AUC",
    )
    for axes, label in ((loss_axes, "Loss"), (auc_axes, "AUC")):
        axes.set_xlim(0.5, max(epochs, 1) + 0.5)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("Epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    # 0.4..1 reads best for a model that learns; one that does worse than chance must still
    # show its points rather than fall off the plot.
    aucs = [row["test_auc"] for row in history if row["test_auc"] is not None]
    auc_axes.set_ylim(min([0.4, *aucs]) - 0.02 if aucs and min(aucs) < 0.4 else 0.4, 1.0)
    auc_axes.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    for previous, row in itertools.pairwise(history):
        if row.get("attempt") != previous.get("attempt"):
            for axes in (loss_axes, auc_axes):
                axes.axvline(row["epoch"] - 0.5, color="tab:red", linestyle="--", linewidth=1)
            auc_axes.annotate(
                "resumed", (row["epoch"] - 0.5, 0.42), color="tab:red", fontsize=8, ha="center"
            )
    loss_axes.legend(fontsize=8)
    auc_axes.legend(fontsize=8, loc="lower right")
    if not history:
        loss_axes.text(
            0.5,
            0.5,
            "waiting for the first epoch",
            transform=loss_axes.transAxes,
            ha="center",
            color="grey",
        )
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    return buffer.getvalue()
