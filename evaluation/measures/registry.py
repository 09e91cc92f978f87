"""Measures by key. Adding one is adding one module and one line here."""

from __future__ import annotations

from evaluation.measures.base import Measure, MeasureResult, OperatingPoint, ScoredCases
from evaluation.measures.calibration import Calibration
from evaluation.measures.confusion_matrix import ConfusionMatrix
from evaluation.measures.dice import MeanDice
from evaluation.measures.predictive_values import PredictiveValues
from evaluation.measures.roc import RocAuc
from evaluation.measures.sensitivity_specificity import SensitivitySpecificity
from evaluation.measures.site_auc import SiteAuc

MEASURES: dict[str, Measure] = {
    measure.key: measure
    for measure in (
        RocAuc(),
        SensitivitySpecificity(),
        PredictiveValues(),
        ConfusionMatrix(),
        Calibration(),
        SiteAuc(),
        MeanDice(),
    )
}


def measure_get(key: str) -> Measure:
    return MEASURES[key]


def measures_compute(
    cases: ScoredCases, point: OperatingPoint, *, uses_operating_point: bool | None = None
) -> dict[str, MeasureResult]:
    """Every applicable measure's result by key; `uses_operating_point` selects the live
    (True) or the stored (False) ones, None both."""
    return {
        key: measure.compute(cases, point)
        for key, measure in MEASURES.items()
        if measure.applies_to(cases)
        and (uses_operating_point is None or measure.uses_operating_point == uses_operating_point)
    }
