"""Calibration: the reliability diagram and the expected calibration error (ECE).

Bin rule: BINS equal-width bins of the predicted probability over [0, 1]; bin k holds
scores in [k/BINS, (k+1)/BINS), the last bin also holds 1.0. For each non-empty bin,
confidence = mean score and observed = share of positive cases;
ECE = sum over bins of (cases in bin / all cases) x |observed - confidence|.
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


class Calibration(Measure):
    key = "calibration"
    title = "Calibration (reliability diagram, ECE)"
    formula = (
        f"{BINS} equal-width bins of the score over [0, 1] (the last includes 1.0); "
        "ECE = sum over bins of (cases in bin / all cases) x |share positive - mean score|."
    )

    def applies_to(self, cases: ScoredCases) -> bool:
        return len(cases) > 0

    def compute(self, cases: ScoredCases, point: OperatingPoint):
        labels = cases.labels.astype(float)
        return self.result(
            [
                MeasureRow(
                    "ECE",
                    expected_calibration_error(cases.scores, labels),
                    cases=len(cases),
                )
            ],
            bins=reliability_bins(cases.scores, labels),
        )
