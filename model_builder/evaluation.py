"""The held-out measures of a trained model, with the Labs I methods (zoo.evaluation).

AUC with a 95 % bootstrap CI; sensitivity and specificity at the 0.5 threshold with
bootstrap CIs; the confusion matrix at that threshold.
"""

from __future__ import annotations

import numpy as np

from zoo.evaluation import auc_with_interval, mean_with_interval

THRESHOLD = 0.5


def json_safe(value):
    """NaN and infinities become None: JSON (and PostgreSQL's jsonb) has no NaN."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def classification_measures(*, scores: np.ndarray, labels: np.ndarray) -> dict:
    positive = labels.astype(bool)
    called = scores >= THRESHOLD
    sensitivity = mean_with_interval(values=called[positive].astype(float))
    specificity = mean_with_interval(values=(~called[~positive]).astype(float))
    return json_safe(
        {
            "auc": auc_with_interval(scores=scores, positive=positive),
            "sensitivity": sensitivity,
            "specificity": specificity,
            "threshold": THRESHOLD,
            "confusion": {
                "true_positive": int((called & positive).sum()),
                "false_negative": int((~called & positive).sum()),
                "false_positive": int((called & ~positive).sum()),
                "true_negative": int((~called & ~positive).sum()),
            },
            "images": len(scores),
        }
    )
