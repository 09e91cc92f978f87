"""ROC curve and AUC with a 95 % CI.

AUC is the Mann-Whitney probability that a random positive case scores above a random
negative one (ties count one half), from `zoo.evaluation.auc`. Its 95 % CI is a
percentile bootstrap over cases (2000 resamples, fixed seed; resamples missing a class
are skipped), the same as every model card's, not DeLong's variance.
"""

from __future__ import annotations

import numpy as np

from evaluation.measures.base import Measure, MeasureRow, OperatingPoint, ScoredCases
from zoo.evaluation import auc_with_interval


def roc_curve(cases: ScoredCases) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates, thresholds), from (0, 0) to (1, 1).

    Each distinct score is a threshold (positive call: score >= threshold), highest first;
    the curve starts at threshold +inf (nothing called positive).
    """
    thresholds = np.concatenate([[np.inf], np.unique(cases.scores)[::-1]])
    positives = max(int(cases.labels.sum()), 1)
    negatives = max(int((~cases.labels).sum()), 1)
    tpr = np.array([(cases.scores[cases.labels] >= t).sum() / positives for t in thresholds])
    fpr = np.array([(cases.scores[~cases.labels] >= t).sum() / negatives for t in thresholds])
    return fpr, tpr, thresholds


class RocAuc(Measure):
    key = "roc-auc"
    title = "ROC curve and AUC"
    formula = (
        "AUC = P(score of a random positive > score of a random negative), ties count 1/2 "
        "(Mann-Whitney U / (positives x negatives)); 95 % CI: percentile bootstrap over "
        "cases, 2000 resamples."
    )

    def compute(self, cases: ScoredCases, point: OperatingPoint):
        auc = auc_with_interval(scores=cases.scores, positive=cases.labels)
        fpr, tpr, _thresholds = roc_curve(cases)
        return self.result(
            [MeasureRow(name="AUC", **auc)],
            fpr=fpr.tolist(),
            tpr=tpr.tolist(),
        )
