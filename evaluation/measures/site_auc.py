"""AUC per site (virtual scanner), each with its bootstrap 95 % CI (see roc.py)."""

from __future__ import annotations

import numpy as np

from evaluation.measures.base import Measure, MeasureRow, OperatingPoint, ScoredCases
from zoo.evaluation import auc_with_interval


class SiteAuc(Measure):
    key = "site-auc"
    title = "AUC per site (virtual scanner)"
    formula = (
        "The AUC (see above) computed on each site's cases alone; sites lacking positive or "
        "negative cases are listed without an AUC."
    )

    def applies_to(self, cases: ScoredCases) -> bool:
        return len(set(cases.sites) - {""}) > 0

    def compute(self, cases: ScoredCases, point: OperatingPoint):
        rows = []
        for site in sorted(set(cases.sites)):
            selected = cases.sites == site
            labels = cases.labels[selected]
            if labels.any() and (~labels).any():
                auc = auc_with_interval(scores=cases.scores[selected], positive=labels)
            else:
                auc = {"value": float("nan"), "low": None, "high": None}
                auc["cases"] = int(selected.sum())
            rows.append(MeasureRow(name="AUC", group=site, **auc))
        return self.result(
            rows,
            prevalence={
                site: float(cases.labels[cases.sites == site].mean())
                for site in np.unique(cases.sites)
            },
        )
