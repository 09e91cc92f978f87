"""Sensitivity and specificity at the resident's threshold."""

from __future__ import annotations

from evaluation.measures.base import (
    Measure,
    MeasureRow,
    OperatingPoint,
    ScoredCases,
    confusion_counts,
    ratio,
)


class SensitivitySpecificity(Measure):
    key = "sensitivity-specificity"
    title = "Sensitivity and specificity"
    formula = (
        "A case is called positive when its score >= threshold. "
        "Sensitivity = TP / (TP + FN); specificity = TN / (TN + FP); "
        "accuracy = (TP + TN) / all cases."
    )
    uses_operating_point = True

    def compute(self, cases: ScoredCases, point: OperatingPoint):
        n = confusion_counts(cases, point.threshold)
        return self.result(
            [
                MeasureRow(
                    "Sensitivity", ratio(n["TP"], n["TP"] + n["FN"]), cases=n["TP"] + n["FN"]
                ),
                MeasureRow(
                    "Specificity", ratio(n["TN"], n["TN"] + n["FP"]), cases=n["TN"] + n["FP"]
                ),
                MeasureRow("Accuracy", ratio(n["TP"] + n["TN"], len(cases)), cases=len(cases)),
            ],
            threshold=point.threshold,
        )
