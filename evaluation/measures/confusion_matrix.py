"""The 2 x 2 confusion matrix at the resident's threshold."""

from __future__ import annotations

from evaluation.measures.base import (
    Measure,
    MeasureRow,
    OperatingPoint,
    ScoredCases,
    confusion_counts,
)


class ConfusionMatrix(Measure):
    key = "confusion-matrix"
    title = "Confusion matrix"
    formula = (
        "Counts of cases: true positives (reference positive, score >= threshold), false "
        "positives, false negatives and true negatives."
    )
    uses_operating_point = True

    def applies_to(self, cases: ScoredCases) -> bool:
        return len(cases) > 0

    def compute(self, cases: ScoredCases, point: OperatingPoint):
        counts = confusion_counts(cases, point.threshold)
        return self.result(
            [MeasureRow(name, float(value), cases=len(cases)) for name, value in counts.items()],
            threshold=point.threshold,
            **counts,
        )
