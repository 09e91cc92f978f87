"""Every measure against a case small enough to compute by hand.

The ten cases (score, reference):
    0.05 -  0.15 -  0.25 +  0.35 -  0.45 -  |  0.55 +  0.65 -  0.75 +  0.85 +  0.95 +
    ------------ site A ------------------  |  ------------ site B ----------------
"""

import math

import numpy as np
import pytest

from evaluation.measures.base import MeasureInputError, OperatingPoint, ScoredCases
from evaluation.measures.calibration import expected_calibration_error, reliability_bins
from evaluation.measures.predictive_values import predictive_values
from evaluation.measures.registry import MEASURES, measures_compute
from evaluation.measures.roc import roc_curve

SCORES = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95]
LABELS = [0, 0, 1, 0, 0, 1, 0, 1, 1, 1]
SITES = ["A"] * 5 + ["B"] * 5


@pytest.fixture
def cases():
    return ScoredCases.from_lists(scores=SCORES, labels=LABELS, sites=SITES)


def test_auc_counts_the_pairs_a_positive_wins(cases):
    # Positives 0.25, 0.55, 0.75, 0.85, 0.95 beat 2, 4, 5, 5, 5 of the 5 negatives: 21/25.
    result = MEASURES["roc-auc"].compute(cases, OperatingPoint())
    auc = result.row("AUC")
    assert auc.value == pytest.approx(21 / 25)
    assert auc.low < auc.value < auc.high <= 1.0
    assert auc.cases == 10


def test_auc_counts_ties_as_one_half():
    tied = ScoredCases.from_lists(scores=[0.5, 0.5, 0.2, 0.9], labels=[1, 0, 0, 1])
    # Pairs (positive, negative): (0.5, 0.5) = 1/2, (0.5, 0.2) = 1, (0.9, 0.5) = 1, (0.9, 0.2) = 1.
    assert MEASURES["roc-auc"].compute(tied, OperatingPoint()).row("AUC").value == 3.5 / 4


def test_roc_curve_runs_from_the_corner_through_each_threshold(cases):
    fpr, tpr, thresholds = roc_curve(cases)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    at_half = list(thresholds).index(0.55)
    # Called positive at >= 0.55: 4 of 5 lesions and 1 of 5 others (0.65).
    assert (fpr[at_half], tpr[at_half]) == (0.2, 0.8)


def test_sensitivity_specificity_and_confusion_matrix_at_a_threshold(cases):
    point = OperatingPoint(threshold=0.5)
    counts = MEASURES["confusion-matrix"].compute(cases, point).details
    assert {k: counts[k] for k in ("TP", "FP", "FN", "TN")} == {"TP": 4, "FP": 1, "FN": 1, "TN": 4}
    result = MEASURES["sensitivity-specificity"].compute(cases, point)
    assert result.row("Sensitivity").value == 0.8
    assert result.row("Specificity").value == 0.8
    assert result.row("Accuracy").value == 0.8
    # At 0.7: TP 3 (0.75, 0.85, 0.95), FN 2, FP 0, TN 5.
    higher = MEASURES["sensitivity-specificity"].compute(cases, OperatingPoint(threshold=0.7))
    assert higher.row("Sensitivity").value == 0.6
    assert higher.row("Specificity").value == 1.0


def test_ppv_npv_follow_bayes_at_the_prevalence_set():
    # sens = spec = 0.8, p = 0.1: PPV = 0.08 / (0.08 + 0.18); NPV = 0.72 / (0.72 + 0.02).
    ppv, npv = predictive_values(sensitivity=0.8, specificity=0.8, prevalence=0.1)
    assert ppv == pytest.approx(0.08 / 0.26)
    assert npv == pytest.approx(0.72 / 0.74)


def test_ppv_npv_measure_uses_the_cohort_prevalence_when_none_is_set(cases):
    own = MEASURES["predictive-values"].compute(cases, OperatingPoint(threshold=0.5))
    # Cohort prevalence 0.5, sens = spec = 0.8: PPV = NPV = 0.4 / 0.5.
    assert own.row("Prevalence").value == 0.5
    assert own.row("PPV").value == pytest.approx(0.8)
    screening = MEASURES["predictive-values"].compute(
        cases, OperatingPoint(threshold=0.5, prevalence=0.01)
    )
    # PPV = 0.008 / (0.008 + 0.198); NPV = 0.792 / (0.792 + 0.002).
    assert screening.row("PPV").value == pytest.approx(0.008 / 0.206)
    assert screening.row("NPV").value == pytest.approx(0.792 / 0.794)


def test_ece_with_ten_bins_is_the_mean_gap_when_every_bin_holds_one_case(cases):
    # Each score sits alone in its 0.1-wide bin: ECE = mean |label - score| = 3.3 / 10.
    result = MEASURES["calibration"].compute(cases, OperatingPoint())
    assert result.row("ECE").value == pytest.approx(0.33)
    assert len(result.details["bins"]) == 10


def test_ece_with_five_bins_matches_the_hand_computation():
    scores, labels = np.array(SCORES), np.array(LABELS, float)
    # Bins of 0.2: mean score 0.1/0.3/0.5/0.7/0.9 vs share positive 0/0.5/0.5/0.5/1, two cases
    # each: ECE = (2 x 0.1 + 2 x 0.2 + 0 + 2 x 0.2 + 2 x 0.1) / 10 = 0.12.
    assert expected_calibration_error(scores, labels, bins=5) == pytest.approx(0.12)
    bins = reliability_bins(scores, labels, bins=5)
    assert [row["cases"] for row in bins] == [2, 2, 2, 2, 2]
    assert [row["observed"] for row in bins] == [0, 0.5, 0.5, 0.5, 1]


def test_a_score_of_exactly_one_joins_the_last_bin():
    bins = reliability_bins(np.array([1.0, 0.0]), np.array([1.0, 0.0]), bins=10)
    assert [(row["low"], row["cases"]) for row in bins] == [(0.0, 1), (0.9, 1)]


def test_site_auc_is_each_sites_own_auc(cases):
    result = MEASURES["site-auc"].compute(cases, OperatingPoint())
    # Site A: positive 0.25 beats 0.05, 0.15 of 4 negatives = 0.5.
    # Site B: negative 0.65 is beaten by 0.75, 0.85, 0.95 and beats 0.55 = 3/4.
    assert result.row("AUC", "A").value == 0.5
    assert result.row("AUC", "B").value == 0.75
    assert result.row("AUC", "B").cases == 5


def test_mean_dice_over_lesion_cases_only():
    # Two masks by hand: |P|=4, |R|=4, overlap 2 -> 0.5; identical -> 1.0.
    from zoo.evaluation import dice_score

    predicted = np.zeros((4, 4), bool)
    reference = np.zeros((4, 4), bool)
    predicted[0, :4] = True
    reference[0, 2:4] = reference[1, 2:4] = True
    assert dice_score(predicted=predicted, reference=reference) == 0.5
    cases = ScoredCases.from_lists(scores=[0.9, 0.8, 0.1], labels=[1, 1, 0], dices=[0.5, 1.0, None])
    dice = MEASURES["dice"].compute(cases, OperatingPoint()).row("Dice")
    assert dice.value == 0.75 and dice.cases == 2


def test_measures_split_into_stored_and_live(cases):
    stored = measures_compute(cases, OperatingPoint(), uses_operating_point=False)
    live = measures_compute(cases, OperatingPoint(), uses_operating_point=True)
    assert set(stored) == {"roc-auc", "calibration", "site-auc"}  # no masks: no Dice
    assert set(live) == {"sensitivity-specificity", "predictive-values", "confusion-matrix"}


def test_bad_operating_points_are_refused_with_a_reason():
    with pytest.raises(MeasureInputError, match="threshold"):
        OperatingPoint(threshold=1.5)
    with pytest.raises(MeasureInputError, match="prevalence"):
        OperatingPoint(prevalence=0.0)


def test_one_class_only_gives_no_auc_but_a_confusion_matrix():
    only_negatives = ScoredCases.from_lists(scores=[0.2, 0.7], labels=[0, 0])
    assert not MEASURES["roc-auc"].applies_to(only_negatives)
    result = MEASURES["sensitivity-specificity"].compute(only_negatives, OperatingPoint())
    assert math.isnan(result.row("Sensitivity").value)
    assert result.row("Specificity").value == 0.5


def test_stored_rows_never_carry_nan_which_jsonb_refuses():
    only_negatives = ScoredCases.from_lists(scores=[0.2, 0.7], labels=[0, 0], sites=["A", "A"])
    row = MEASURES["site-auc"].compute(only_negatives, OperatingPoint()).rows[0]
    stored = row.as_dict()
    assert stored["value"] is None and stored["low"] is None
    assert math.isnan(type(row).from_dict(stored).value)


def _bernoulli_cases(seed: int = 3, count: int = 20000):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.02, 0.98, count)  # the real risk of each case
    labels = rng.uniform(size=count) < truth
    return np.log(truth / (1 - truth)), labels


def test_calibration_slope_and_intercept_recover_how_the_scores_were_distorted():
    """Scores equal to the true risk: slope 1, intercept 0. Scores twice as extreme on the
    logit scale (an overconfident network): slope 1/2. Scores shifted down by 1 logit: the
    model under-predicts, intercept +1."""
    logits, labels = _bernoulli_cases()

    def measured(distorted_logits):
        cases = ScoredCases.from_lists(scores=1 / (1 + np.exp(-distorted_logits)), labels=labels)
        result = MEASURES["calibration"].compute(cases, OperatingPoint())
        return result.row("Calibration slope").value, result.row("Calibration intercept").value

    slope, intercept = measured(logits)
    assert slope == pytest.approx(1.0, abs=0.06) and intercept == pytest.approx(0.0, abs=0.05)
    slope, _intercept = measured(2 * logits)
    assert slope == pytest.approx(0.5, abs=0.03)
    slope, intercept = measured(logits - 1)
    assert slope == pytest.approx(1.0, abs=0.06) and intercept == pytest.approx(1.0, abs=0.06)


def test_calibration_slope_is_left_out_where_it_is_undefined():
    one_class = ScoredCases.from_lists(scores=[0.2, 0.7, 0.9], labels=[1, 1, 1])
    names = {row.name for row in MEASURES["calibration"].compute(one_class, OperatingPoint()).rows}
    assert names == {"ECE"}
    separated = ScoredCases.from_lists(scores=[0.1, 0.2, 0.8, 0.9], labels=[0, 0, 1, 1])
    rows = MEASURES["calibration"].compute(separated, OperatingPoint()).rows
    assert "Calibration slope" not in {row.name for row in rows}  # infinite: no finite fit
