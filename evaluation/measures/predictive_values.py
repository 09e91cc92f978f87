"""PPV and NPV at a prevalence the resident sets (Bayes' theorem from sensitivity and
specificity), because a cohort's own prevalence (here about half the cases) is rarely
the prevalence of the clinic the model is used in."""

from __future__ import annotations

from evaluation.measures.base import (
    Measure,
    MeasureRow,
    OperatingPoint,
    ScoredCases,
    confusion_counts,
    ratio,
)


def predictive_values(*, sensitivity: float, specificity: float, prevalence: float):
    """(PPV, NPV) by Bayes' theorem; NaN where a denominator is 0."""
    ppv = ratio(
        sensitivity * prevalence,
        sensitivity * prevalence + (1 - specificity) * (1 - prevalence),
    )
    npv = ratio(
        specificity * (1 - prevalence),
        specificity * (1 - prevalence) + (1 - sensitivity) * prevalence,
    )
    return ppv, npv


class PredictiveValues(Measure):
    key = "predictive-values"
    title = "PPV and NPV at a prevalence"
    formula = (
        "With prevalence p: PPV = sens x p / (sens x p + (1 - spec) x (1 - p)); "
        "NPV = spec x (1 - p) / (spec x (1 - p) + (1 - sens) x p). "
        "Without a prevalence, the cohort's own: p = positives / cases."
    )
    uses_operating_point = True

    def compute(self, cases: ScoredCases, point: OperatingPoint):
        n = confusion_counts(cases, point.threshold)
        sensitivity = ratio(n["TP"], n["TP"] + n["FN"])
        specificity = ratio(n["TN"], n["TN"] + n["FP"])
        prevalence = (
            point.prevalence if point.prevalence is not None else float(cases.labels.mean())
        )
        ppv, npv = predictive_values(
            sensitivity=sensitivity, specificity=specificity, prevalence=prevalence
        )
        return self.result(
            [
                MeasureRow("PPV", ppv),
                MeasureRow("NPV", npv),
                MeasureRow("Prevalence", prevalence),
            ],
            threshold=point.threshold,
        )
