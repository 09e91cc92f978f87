"""Dice of the predicted lesion mask on positive cases, mean with a bootstrap 95 % CI.

Dice = 2 |P ∩ R| / (|P| + |R|) per case (`zoo.evaluation.dice_score`), averaged over
cases with a lesion in the reference; the CI is a percentile bootstrap of that mean.
"""

from __future__ import annotations

import numpy as np

from evaluation.measures.base import Measure, MeasureRow, OperatingPoint, ScoredCases
from zoo.evaluation import mean_with_interval


class MeanDice(Measure):
    key = "dice"
    title = "Dice (lesion cases)"
    formula = (
        "Dice = 2 |predicted ∩ reference| / (|predicted| + |reference|) per lesion case; "
        "mean over lesion cases, 95 % CI by percentile bootstrap (2000 resamples)."
    )

    def applies_to(self, cases: ScoredCases) -> bool:
        return cases.has_masks and bool(cases.labels.any())

    def compute(self, cases: ScoredCases, point: OperatingPoint):
        values = cases.dices[cases.labels & np.isfinite(cases.dices)]
        return self.result([MeasureRow(name="Dice", **mean_with_interval(values=values))])
