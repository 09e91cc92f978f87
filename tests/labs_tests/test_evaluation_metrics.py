"""The AUC and mean intervals computed on whole arrays give the very numbers of the
resample-by-resample loop."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.evaluation import auc, auc_with_interval, bootstrap_interval, mean_with_interval


def _loop_interval(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """The reference: one resample at a time, `auc` on each (as the platform first did)."""
    return bootstrap_interval(
        statistic=lambda idx: auc(scores=scores[idx], positive=positive[idx]),
        cases=len(scores),
    )


@pytest.mark.parametrize(
    ("cases", "positives", "decimals"),
    [
        (120, 40, 2),  # a cohort sweep's size, scores rounded so that ties occur
        (31, 2, 6),  # two positives: many resamples hold none and are left out
        (400, 200, 1),  # heavy ties
    ],
)
def test_the_vectorised_interval_equals_the_loop_exactly(cases, positives, decimals):
    rng = np.random.default_rng(cases)
    positive = np.zeros(cases, dtype=bool)
    positive[rng.choice(cases, size=positives, replace=False)] = True
    scores = np.round(rng.random(cases) * 0.6 + 0.4 * positive, decimals)

    measured = auc_with_interval(scores=scores, positive=positive)

    low, high = _loop_interval(scores, positive)
    assert (measured["low"], measured["high"]) == (low, high)
    assert measured["value"] == auc(scores=scores, positive=positive)
    assert measured["low"] <= measured["value"] <= measured["high"]
    assert measured["cases"] == cases


def test_one_class_only_gives_no_interval():
    measured = auc_with_interval(scores=np.linspace(0, 1, 10), positive=np.ones(10, dtype=bool))
    assert np.isnan(measured["value"]) and np.isnan(measured["low"]) and np.isnan(measured["high"])


@pytest.mark.parametrize("cases", [1, 7, 40, 120, 1001])
def test_the_vectorised_mean_interval_equals_the_loop_exactly(cases):
    values = np.random.default_rng(cases).random(cases)

    measured = mean_with_interval(values=values)

    loop = bootstrap_interval(statistic=lambda idx: float(values[idx].mean()), cases=cases)
    assert (measured["low"], measured["high"]) == loop
    assert measured["value"] == float(values.mean()) and measured["cases"] == cases
    assert measured["low"] <= measured["value"] <= measured["high"]


def test_no_values_give_no_mean_interval():
    assert mean_with_interval(values=np.array([])) == {
        "value": pytest.approx(float("nan"), nan_ok=True),
        "low": None,
        "high": None,
        "cases": 0,
    }
