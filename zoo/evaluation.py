"""Metrics with confidence intervals, shared by every model's evaluation.

AUC is the Mann-Whitney probability that a random positive scores above a random negative
(ties count one half). Confidence intervals are percentile bootstraps over cases with a
fixed seed, so the same predictions always give the same interval.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from zoo.weights_files import file_sha256

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20260101


def auc(*, scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve; NaN when one class is absent."""
    positive = positive.astype(bool)
    positives, negatives = int(positive.sum()), int((~positive).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float(
        (ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def dice_score(*, predicted: np.ndarray, reference: np.ndarray) -> float:
    """Dice of two binary masks; 1.0 when both are empty."""
    predicted, reference = predicted.astype(bool), reference.astype(bool)
    denominator = int(predicted.sum() + reference.sum())
    return (
        2.0 * float(np.logical_and(predicted, reference).sum()) / denominator
        if denominator
        else 1.0
    )


def bootstrap_interval(
    *, statistic: Callable[[np.ndarray], float], cases: int, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float]:
    """95 % percentile interval of `statistic(indices)` over resampled case indices."""
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, cases, size=cases)) for _ in range(BOOTSTRAP_RESAMPLES)]
    return _percentile_interval(np.asarray(values, dtype=float))


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    """The 95 % percentile interval of the finite resampled values (NaN, NaN: none)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


# Resamples handled per block in the vectorised intervals: bounds their arrays to
# block x cases values, whatever the cohort's size.
BOOTSTRAP_BLOCK = 250


def _resample_blocks(*, cases: int, seed: int):
    """Bootstrap resamples of case indices, BOOTSTRAP_BLOCK rows at a time: the same
    stream as bootstrap_interval's one draw per resample (a (rows, cases) draw yields it)."""
    rng = np.random.default_rng(seed)
    for start in range(0, BOOTSTRAP_RESAMPLES, BOOTSTRAP_BLOCK):
        rows = min(BOOTSTRAP_BLOCK, BOOTSTRAP_RESAMPLES - start)
        yield rng.integers(0, cases, size=(rows, cases))


def _resampled_aucs(*, scores: np.ndarray, positive: np.ndarray, seed: int) -> np.ndarray:
    """AUC of every bootstrap resample, a block of resamples at a time, without ranking.

    A resample is a count per original case. With the cases grouped by distinct score
    (ascending), a resample's Mann-Whitney U is the sum over score groups of its positives
    there times (its negatives in lower groups + half its negatives in the same group):
    integer and half-integer sums, exact in floating point, so each AUC is bit-for-bit the
    one `auc` gives on the resampled arrays (tests/labs_tests/test_evaluation_metrics.py).
    The resamples are bootstrap_interval's (`_resample_blocks`). One call costs a few
    milliseconds where ranking every resample cost ~25 ms and 2,000 draws ~12 ms: a sweep's
    summary computes twenty of these intervals.
    """
    positive = positive.astype(bool)
    cases = len(scores)
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    group_starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    values = []
    for indices in _resample_blocks(cases=cases, seed=seed):
        rows = len(indices)
        # counts[r, c]: how often case c was drawn in resample r (one bincount for the block).
        flat = (indices + cases * np.arange(rows)[:, None]).ravel()
        counts = np.bincount(flat, minlength=rows * cases).reshape(rows, cases)[:, order]
        positives_at = np.add.reduceat(counts * positive[order], group_starts, axis=1)
        negatives_at = np.add.reduceat(counts * ~positive[order], group_starts, axis=1)
        negatives_below = np.cumsum(negatives_at, axis=1) - negatives_at
        u = (positives_at * (negatives_below + 0.5 * negatives_at)).sum(axis=1)
        positives, negatives = positives_at.sum(axis=1), negatives_at.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            block = u / (positives * negatives)
        block[(positives == 0) | (negatives == 0)] = np.nan
        values.append(block)
    return np.concatenate(values)


def auc_with_interval(*, scores: np.ndarray, positive: np.ndarray) -> dict[str, float]:
    scores = np.asarray(scores, dtype=float)
    values = _resampled_aucs(scores=scores, positive=np.asarray(positive), seed=BOOTSTRAP_SEED)
    low, high = _percentile_interval(values)
    return {
        "value": auc(scores=scores, positive=positive),
        "low": low,
        "high": high,
        "cases": len(scores),
    }


def mean_with_interval(*, values: np.ndarray) -> dict[str, float]:
    """The mean with its bootstrap interval. Each resample's mean is computed a block at a
    time, from bootstrap_interval's resamples and with the loop's pairwise sum (a test holds
    the two equal): ~2 ms where the loop cost ~30 (a sweep's Dice)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return {"value": float("nan"), "low": None, "high": None, "cases": 0}
    means = np.concatenate(
        [
            values[indices].mean(axis=1)
            for indices in _resample_blocks(cases=len(values), seed=BOOTSTRAP_SEED)
        ]
    )
    low, high = _percentile_interval(means)
    return {"value": float(values.mean()), "low": low, "high": high, "cases": len(values)}


def metrics_record_write(
    *,
    path: Path,
    weights_path: Path,
    rows: list[dict],
    training_seconds: float | None,
    training: dict[str, int],
    held_out: dict[str, int],
    held_out_description: str,
    evaluation_seconds: float,
) -> None:
    """Store a project-trained model's measured rows beside its weights, for its card.

    `training_seconds` None keeps the previously recorded training time (evaluation only).
    """
    previous = json.loads(path.read_text()) if path.exists() else {}
    record = {
        "measured": rows,
        "weights_sha256": file_sha256(weights_path),
        "training_seconds": training_seconds
        if training_seconds is not None
        else previous.get("training_seconds"),
        "training": training,
        "held_out": held_out,
        "evaluation": (
            f"Measured by zoo_build on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"{held_out_description}, {evaluation_seconds:.0f} s."
        ),
    }
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
