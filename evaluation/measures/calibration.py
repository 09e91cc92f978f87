"""Calibration: the reliability diagram, the expected calibration error (ECE), and the
calibration slope and intercept (logistic recalibration).

Bin rule: BINS equal-width bins of the predicted probability over [0, 1]; bin k holds
scores in [k/BINS, (k+1)/BINS), the last bin also holds 1.0. For each non-empty bin,
confidence = mean score and observed = share of positive cases;
ECE = sum over bins of (cases in bin / all cases) x |observed - confidence|.

Slope and intercept need no bins (Cox 1958; Van Calster et al., BMC Med 2019): with
L = logit(score), the slope is b of the logistic regression logit P(positive) = a + b L
(1 is ideal; below 1 the scores are too extreme, above 1 too timid), and the calibration
intercept ("calibration in the large") is a of logit P(positive) = a + L, the slope held at
1 (0 is ideal; above 0 the model under-predicts the positives' frequency, below 0 over-).
Scores are clipped to [1e-6, 1 - 1e-6] so that 0 and 1 have a logit.
"""

from __future__ import annotations

import numpy as np

from evaluation.measures.base import Measure, MeasureRow, OperatingPoint, ScoredCases

BINS = 10


def reliability_bins(scores: np.ndarray, labels: np.ndarray, *, bins: int = BINS) -> list[dict]:
    """Per non-empty bin: its edges, case count, mean score and observed positive share."""
    # floor(score x bins) is the bin; exact for the bin edges a resident would type (0.2
    # x 5 = 1.0), and clipped so a score of 1.0 joins the last bin.
    index = np.clip(np.floor(np.asarray(scores, float) * bins + 1e-9).astype(int), 0, bins - 1)
    rows = []
    for k in range(bins):
        members = index == k
        if members.any():
            rows.append(
                {
                    "low": k / bins,
                    "high": (k + 1) / bins,
                    "cases": int(members.sum()),
                    "confidence": float(scores[members].mean()),
                    "observed": float(labels[members].mean()),
                }
            )
    return rows


def expected_calibration_error(scores: np.ndarray, labels: np.ndarray, *, bins: int = BINS):
    total = len(scores)
    return float(
        sum(
            row["cases"] / total * abs(row["observed"] - row["confidence"])
            for row in reliability_bins(scores, labels, bins=bins)
        )
    )


LOGIT_CLIP = 1e-6


def _logit(scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(scores, float), LOGIT_CLIP, 1.0 - LOGIT_CLIP)
    return np.log(clipped / (1.0 - clipped))


def _logistic_fit(
    columns: np.ndarray, labels: np.ndarray, *, offset: np.ndarray, iterations: int = 50
) -> np.ndarray | None:
    """Maximum-likelihood coefficients of logit P(y) = offset + columns @ beta (Newton's
    method); None when they do not converge (e.g. the scores separate the classes
    perfectly, where the slope is infinite)."""
    beta = np.zeros(columns.shape[1])
    for _ in range(iterations):
        eta = offset + columns @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        weights = p * (1.0 - p)
        hessian = columns.T @ (columns * weights[:, None])
        gradient = columns.T @ (labels - p)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.abs(beta).max() > 1e3:
            return None
        if np.abs(step).max() < 1e-10:
            return beta
    return None


def calibration_slope_intercept(
    scores: np.ndarray, labels: np.ndarray
) -> tuple[float | None, float | None]:
    """(slope, intercept) as defined in the module docstring; None where undefined (one
    class only, or no finite maximum-likelihood estimate)."""
    labels = np.asarray(labels, float)
    if len(labels) == 0 or labels.min() == labels.max():
        return None, None
    logits = _logit(scores)
    ones = np.ones((len(labels), 1))
    slope_fit = _logistic_fit(np.column_stack([ones, logits]), labels, offset=np.zeros(len(labels)))
    intercept_fit = _logistic_fit(ones, labels, offset=logits)
    return (
        None if slope_fit is None else float(slope_fit[1]),
        None if intercept_fit is None else float(intercept_fit[0]),
    )


class Calibration(Measure):
    key = "calibration"
    title = "Calibration (reliability diagram, ECE, slope and intercept)"
    formula = (
        f"{BINS} equal-width bins of the score over [0, 1] (the last includes 1.0); "
        "ECE = sum over bins of (cases in bin / all cases) x |share positive - mean score|. "
        "Slope: b in logit P(positive) = a + b logit(score), fitted by logistic regression "
        "(ideal 1; below 1 the scores are too extreme). Intercept: a in logit P(positive) "
        "= a + logit(score), the slope held at 1 (ideal 0; above 0 the model "
        "under-predicts, below 0 it over-predicts)."
    )

    def applies_to(self, cases: ScoredCases) -> bool:
        return len(cases) > 0

    def compute(self, cases: ScoredCases, point: OperatingPoint):
        labels = cases.labels.astype(float)
        rows = [
            MeasureRow("ECE", expected_calibration_error(cases.scores, labels), cases=len(cases))
        ]
        slope, intercept = calibration_slope_intercept(cases.scores, labels)
        # Undefined with one class or scores that separate the classes: left out, not 0.
        if slope is not None:
            rows.append(MeasureRow("Calibration slope", slope, cases=len(cases)))
        if intercept is not None:
            rows.append(MeasureRow("Calibration intercept", intercept, cases=len(cases)))
        return self.result(rows, bins=reliability_bins(cases.scores, labels))
