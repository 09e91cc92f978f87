"""The screening first-reader simulator against a population of ten worked out by hand.

    case  score  cancer      threshold 0.3: cleared (score < 0.3)?
     1    0.05    no         cleared
     2    0.10    no         cleared
     3    0.15    yes        cleared  -> a cancer the AI misses
     4    0.20    no         cleared
     5    0.25    no         cleared
     6    0.35    no         read
     7    0.50    yes        read
     8    0.60    no         read
     9    0.80    yes        read
    10    0.90    yes        read

Four cancers, six non-cancers. At threshold 0.3 the AI clears 5 of 10: workload reduction
50 %, human reads 5 (3 cancers, 2 non-cancers), 1 cancer missed by the AI.
Human reader sensitivity 0.8, specificity 0.9 (expected counts):
  cancers found 0.8 x 3 = 2.4; false recalls 0.1 x 2 = 0.2;
  cancers missed 4 - 2.4 = 1.6 (1 by the AI, 0.6 by the human);
  pathway sensitivity 2.4 / 4 = 0.6; specificity 1 - 0.2 / 6 = 0.9666...;
  PPV 2.4 / (2.4 + 0.2) = 0.923...;
  AI operating point: TPR 3 / 4 = 0.75, FPR 2 / 6 = 0.333...
Human alone (threshold 0): sensitivity 0.8, specificity 0.9, PPV 3.2 / (3.2 + 0.6) = 0.842...
PPV of the pathway at a prevalence of 1 %: 0.006 / (0.006 + (1/30) x 0.99) = 0.1538...
"""

from __future__ import annotations

import numpy as np
import pytest

from reading_room.simulation.screening import (
    ScreeningRefused,
    ppv_at,
    screening_simulate,
    threshold_sweep,
)

SCORES = [0.05, 0.10, 0.15, 0.20, 0.25, 0.35, 0.50, 0.60, 0.80, 0.90]
CANCER = [False, False, True, False, False, False, True, False, True, True]


def simulate(threshold: float):
    return screening_simulate(
        scores=SCORES,
        cancer=CANCER,
        threshold=threshold,
        human_sensitivity=0.8,
        human_specificity=0.9,
    )


def test_workload_and_misses_at_threshold_0_3():
    outcome = simulate(0.3)
    assert outcome.cleared == 5
    assert outcome.human_reads == 5
    assert outcome.workload_reduction == 0.5
    assert outcome.ai_missed_cancers == 1
    assert outcome.cancers_found == pytest.approx(2.4)
    assert outcome.false_recalls == pytest.approx(0.2)
    assert outcome.cancers_missed == pytest.approx(1.6)


def test_pathway_accuracy_and_ppv_at_threshold_0_3():
    outcome = simulate(0.3)
    assert outcome.sensitivity == pytest.approx(0.6)
    assert outcome.specificity == pytest.approx(1 - 0.2 / 6)
    assert outcome.ppv == pytest.approx(2.4 / 2.6)
    assert outcome.ai_true_positive_rate == 0.75
    assert outcome.ai_false_positive_rate == pytest.approx(1 / 3)


def test_ppv_at_another_prevalence_by_bayes():
    outcome = simulate(0.3)
    ppv = ppv_at(sensitivity=outcome.sensitivity, specificity=outcome.specificity, prevalence=0.01)
    assert ppv == pytest.approx(0.006 / (0.006 + 0.99 / 30))
    # At the population's own prevalence (4 / 10) Bayes gives back the counted PPV.
    assert ppv_at(
        sensitivity=outcome.sensitivity, specificity=outcome.specificity, prevalence=0.4
    ) == pytest.approx(outcome.ppv)


def test_threshold_zero_clears_nothing_and_is_the_human_alone():
    outcome = simulate(0.0)
    assert outcome.cleared == 0
    assert outcome.workload_reduction == 0
    assert outcome.ai_missed_cancers == 0
    assert outcome.sensitivity == pytest.approx(0.8)
    assert outcome.specificity == pytest.approx(0.9)
    assert outcome.ppv == pytest.approx(3.2 / 3.8)


def test_a_threshold_above_every_score_clears_everything_and_misses_every_cancer():
    outcome = simulate(1.0)
    assert outcome.cleared == 10
    assert outcome.ai_missed_cancers == 4
    assert outcome.sensitivity == 0
    assert outcome.ppv is None


def test_a_case_scoring_exactly_the_threshold_is_read():
    assert simulate(0.35).cleared == 5
    assert simulate(0.3500001).cleared == 6


def test_raising_the_threshold_never_reads_more_nor_misses_fewer():
    rng = np.random.default_rng(3)
    cancer = rng.random(500) < 0.2
    scores = np.where(cancer, rng.beta(4, 2, 500), rng.beta(2, 4, 500))
    sweep = threshold_sweep(
        scores=scores, cancer=cancer, human_sensitivity=0.85, human_specificity=0.9
    )
    assert np.all(np.diff(sweep.thresholds) > 0)
    assert np.all(np.diff(sweep.workload_reduction) >= 0)
    assert np.all(np.diff(sweep.cancers_missed) >= -1e-12)
    assert np.all(np.diff(sweep.ai_true_positive_rate) <= 0)
    assert sweep.workload_reduction[0] == 0 and sweep.workload_reduction[-1] == 1
    assert (sweep.ai_true_positive_rate[0], sweep.ai_false_positive_rate[0]) == (1, 1)
    assert (sweep.ai_true_positive_rate[-1], sweep.ai_false_positive_rate[-1]) == (0, 0)


def test_the_sweep_agrees_with_the_hand_table():
    sweep = threshold_sweep(
        scores=SCORES, cancer=CANCER, human_sensitivity=0.8, human_specificity=0.9
    )
    at = list(sweep.thresholds).index(0.35)  # first threshold that clears cases 1-5
    assert sweep.workload_reduction[at] == 0.5
    assert sweep.ai_missed_cancers[at] == 1
    assert sweep.cancers_missed[at] == pytest.approx(1.6)


def test_the_sweep_counts_exactly_what_one_simulation_counts():
    rng = np.random.default_rng(11)
    cancer = rng.random(300) < 0.1
    scores = np.round(np.where(cancer, rng.beta(4, 2, 300), rng.beta(2, 4, 300)), 2)
    sweep = threshold_sweep(
        scores=scores, cancer=cancer, human_sensitivity=0.7, human_specificity=0.95
    )
    for at, threshold in enumerate(sweep.thresholds):
        one = screening_simulate(
            scores=scores,
            cancer=cancer,
            threshold=float(threshold),
            human_sensitivity=0.7,
            human_specificity=0.95,
        )
        assert sweep.workload_reduction[at] == one.workload_reduction
        assert sweep.cancers_missed[at] == pytest.approx(one.cancers_missed)
        assert sweep.ai_true_positive_rate[at] == one.ai_true_positive_rate
        assert sweep.ai_false_positive_rate[at] == one.ai_false_positive_rate


def test_bad_input_is_refused_in_words():
    with pytest.raises(ScreeningRefused, match="sensitivity"):
        screening_simulate(
            scores=SCORES,
            cancer=CANCER,
            threshold=0.3,
            human_sensitivity=1.2,
            human_specificity=0.9,
        )
    with pytest.raises(ScreeningRefused, match="one score and one truth"):
        screening_simulate(
            scores=SCORES,
            cancer=CANCER[:3],
            threshold=0.3,
            human_sensitivity=0.8,
            human_specificity=0.9,
        )
