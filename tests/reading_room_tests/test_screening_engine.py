"""The screening pathways against cohorts small enough to work out by hand.

Four cases, AI threshold 0.5 (so cases 1 and 3 are AI-positive); every reader has
sensitivity 0.8 and specificity 0.9; the arbitrator recalls 0.75 of discordant cancers and
0.25 of discordant non-cancers (arbitration specificity 0.75); errors independent.

    case  score  cancer  AI+   reader p   arbitrator q
     1    0.9    yes     yes   0.8        0.75
     2    0.2    yes     no    0.8        0.75
     3    0.7    no      yes   0.1        0.25
     4    0.1    no      no    0.1        0.25

Per case (recall probability; expected human reads):
  single       recall p                              reads 1
  double       recall p^2 + 2p(1-p) q                reads 2 + 2p(1-p)
    cancer:    0.64 + 0.32 x 0.75 = 0.88             reads 2.32
    non-cancer 0.01 + 0.18 x 0.25 = 0.055            reads 2.18
  masai        AI+ -> double, AI- -> single
  screentrust  recall a p + (a(1-p) + (1-a)p) q      reads 1 + a(1-p) + (1-a)p
    case 1:    0.8 + 0.2 x 0.75 = 0.95               reads 1.2
    case 2:    0.8 x 0.75 = 0.6                      reads 1.8
    case 3:    0.1 + 0.9 x 0.25 = 0.325              reads 1.9
    case 4:    0.1 x 0.25 = 0.025                    reads 1.1

Totals (cancers found / false recalls / reads / missed at screening / recall rate):
  single       0.8 + 0.8 = 1.6    0.1 + 0.1 = 0.2       4      0.4    1.8 / 4 = 0.45
  double       0.88 x 2 = 1.76    0.055 x 2 = 0.11      9.0    0.24   1.87 / 4 = 0.4675
  masai        0.88 + 0.8 = 1.68  0.055 + 0.1 = 0.155   6.5    0.32   1.835 / 4
  screentrust  0.95 + 0.6 = 1.55  0.325 + 0.025 = 0.35  6.0    0.45   1.9 / 4 = 0.475
Double reading: sensitivity 0.88, specificity 1 - 0.11 / 2 = 0.945.
Reads saved against double reading: masai 1 - 6.5 / 9 = 0.2777..., screentrust 1 - 6 / 9.

Correlated errors, two cancers scored 0.2 and 0.9, every marginal rate 0.5, rho 0.5:
the normal scores of ranks 1 and 2 of 2 are Phi^-1(0.25) = -0.674 and Phi^-1(0.75) =
+0.674, and sqrt(0.5) / sqrt(1 - 0.5) = 1, so p = Phi(-0.674) = 0.25 for the cancer the AI
scores low and Phi(+0.674) = 0.75 for the other (independent: 0.5 each). ScreenTrustCAD
at threshold 0.5 then finds the low-scoring cancer with probability p q = 0.25 x 0.25 =
0.0625, where independent readers find it with 0.5 x 0.5 = 0.25: the AI's misses become
the humans' misses.
"""

from __future__ import annotations

import numpy as np
import pytest

from reading_room.simulation.screening import (
    Pathway,
    Readers,
    ScreeningRefused,
    case_probabilities,
    pathway_simulate,
    pathways_compare,
    ppv_at,
    threshold_sweep,
)

SCORES = [0.9, 0.2, 0.7, 0.1]
CANCER = [True, True, False, False]
READERS = Readers(
    sensitivity=0.8, specificity=0.9, arbitration_sensitivity=0.75, arbitration_specificity=0.75
)


def outcomes():
    return pathways_compare(scores=SCORES, cancer=CANCER, threshold=0.5, readers=READERS)


@pytest.mark.parametrize(
    ("pathway", "found", "false_recalls", "reads", "missed"),
    [
        (Pathway.SINGLE, 1.6, 0.2, 4.0, 0.4),
        (Pathway.DOUBLE, 1.76, 0.11, 9.0, 0.24),
        (Pathway.MASAI, 1.68, 0.155, 6.5, 0.32),
        (Pathway.SCREENTRUST, 1.55, 0.35, 6.0, 0.45),
    ],
)
def test_each_pathway_on_the_hand_worked_cohort(pathway, found, false_recalls, reads, missed):
    outcome = outcomes()[pathway]
    assert outcome.cancers_found == pytest.approx(found)
    assert outcome.false_recalls == pytest.approx(false_recalls)
    assert outcome.human_reads == pytest.approx(reads)
    assert outcome.cancers_missed == pytest.approx(missed)
    assert outcome.recall_rate == pytest.approx((found + false_recalls) / 4)


def test_double_reading_accuracy_and_the_reads_the_ai_pathways_save():
    result = outcomes()
    double = result[Pathway.DOUBLE]
    assert double.sensitivity == pytest.approx(0.88)
    assert double.specificity == pytest.approx(0.945)
    assert double.ppv == pytest.approx(1.76 / 1.87)
    assert 1 - result[Pathway.MASAI].human_reads / double.human_reads == pytest.approx(1 - 6.5 / 9)
    assert 1 - result[Pathway.SCREENTRUST].human_reads / double.human_reads == pytest.approx(1 / 3)
    assert result[Pathway.MASAI].ai_flags == 2
    assert double.threshold is None and result[Pathway.MASAI].threshold == 0.5


def test_interval_cancers_per_thousand():
    single = outcomes()[Pathway.SINGLE]
    assert single.per_thousand(single.cancers_missed) == pytest.approx(100.0)  # 0.4 of 4


def test_masai_at_threshold_zero_is_double_reading_and_above_every_score_is_single():
    kwargs = {"scores": SCORES, "cancer": CANCER, "readers": READERS}
    everyone_double = pathway_simulate(Pathway.MASAI, threshold=0.0, **kwargs)
    nobody_double = pathway_simulate(Pathway.MASAI, threshold=0.95, **kwargs)
    double = pathway_simulate(Pathway.DOUBLE, threshold=0.5, **kwargs)
    single = pathway_simulate(Pathway.SINGLE, threshold=0.5, **kwargs)
    assert everyone_double.cancers_found == pytest.approx(double.cancers_found)
    assert everyone_double.human_reads == pytest.approx(double.human_reads)
    assert nobody_double.cancers_found == pytest.approx(single.cancers_found)
    assert nobody_double.human_reads == pytest.approx(single.human_reads)


def test_correlated_errors_make_the_ais_misses_the_humans_misses():
    halves = Readers(
        sensitivity=0.5,
        specificity=0.5,
        arbitration_sensitivity=0.5,
        arbitration_specificity=0.5,
        difficulty_correlation=0.5,
    )
    scores, cancer = np.array([0.2, 0.9]), np.array([True, True])
    p = case_probabilities(scores=scores, cancer=cancer, readers=halves).reader
    assert p == pytest.approx([0.25, 0.75], abs=5e-4)

    def low_scoring_cancer_found(readers: Readers) -> float:
        outcome = pathway_simulate(
            Pathway.SCREENTRUST,
            scores=scores[:1],
            cancer=cancer[:1],
            threshold=0.5,
            readers=readers,
        )
        return outcome.cancers_found

    # Difficulty is a rank within the class, so score the low cancer inside its pair:
    both = pathway_simulate(
        Pathway.SCREENTRUST, scores=scores, cancer=cancer, threshold=0.5, readers=halves
    )
    high_found = 0.75 + 0.25 * 0.75
    assert both.cancers_found - high_found == pytest.approx(0.0625, abs=1e-3)
    independent = Readers(0.5, 0.5, 0.5, 0.5, difficulty_correlation=0.0)
    assert low_scoring_cancer_found(independent) == pytest.approx(0.25)


def test_without_correlation_every_case_has_the_readers_marginal_rate():
    p = case_probabilities(scores=np.array(SCORES), cancer=np.array(CANCER), readers=READERS).reader
    assert p.tolist() == pytest.approx([0.8, 0.8, 0.1, 0.1])


def test_ties_share_a_difficulty():
    readers = Readers(0.7, 0.9, 0.7, 0.5, difficulty_correlation=0.6)
    p = case_probabilities(
        scores=np.array([0.4, 0.4, 0.8]), cancer=np.array([True, True, True]), readers=readers
    ).reader
    assert p[0] == p[1] < p[2]


def test_ppv_at_another_prevalence_by_bayes():
    # Double reading above, at a prevalence of 1 %: 0.0088 / (0.0088 + 0.055 x 0.99).
    assert ppv_at(sensitivity=0.88, specificity=0.945, prevalence=0.01) == pytest.approx(
        0.0088 / (0.0088 + 0.055 * 0.99)
    )
    assert ppv_at(sensitivity=0.0, specificity=1.0, prevalence=0.01) is None


@pytest.mark.parametrize("rho", [0.0, 0.4])
def test_the_sweep_counts_exactly_what_one_simulation_counts(rho):
    rng = np.random.default_rng(7)
    cancer = rng.random(400) < 0.1
    scores = np.round(np.clip(rng.normal(0.3 + 0.4 * cancer, 0.2), 0, 1), 2)  # with ties
    readers = Readers(0.7, 0.95, 0.7, 0.5, difficulty_correlation=rho)
    sweep = threshold_sweep(scores=scores, cancer=cancer, readers=readers)
    double = pathway_simulate(
        Pathway.DOUBLE, scores=scores, cancer=cancer, threshold=0.0, readers=readers
    )
    for i in (0, 5, len(sweep.thresholds) // 2, len(sweep.thresholds) - 1):
        threshold = float(sweep.thresholds[i])
        for pathway in (Pathway.MASAI, Pathway.SCREENTRUST):
            one = pathway_simulate(
                pathway, scores=scores, cancer=cancer, threshold=threshold, readers=readers
            )
            assert sweep.human_reads[pathway][i] == pytest.approx(one.human_reads)
            assert sweep.cancers_missed[pathway][i] == pytest.approx(one.cancers_missed)
            assert sweep.recalls[pathway][i] == pytest.approx(one.recalls)
        flagged = scores >= threshold
        assert sweep.ai_true_positive_rate[i] == pytest.approx(flagged[cancer].mean())
        assert sweep.ai_false_positive_rate[i] == pytest.approx(flagged[~cancer].mean())
    # At threshold 0 MASAI double-reads everyone; above every score nobody.
    assert sweep.human_reads[Pathway.MASAI][0] == pytest.approx(double.human_reads)
    assert sweep.human_reads[Pathway.MASAI][-1] == pytest.approx(len(scores))


def test_bad_input_is_refused_in_words():
    with pytest.raises(ScreeningRefused, match="sensitivity"):
        pathway_simulate(
            Pathway.DOUBLE,
            scores=SCORES,
            cancer=CANCER,
            threshold=0.5,
            readers=Readers(1.2, 0.9, 0.7, 0.5),
        )
    with pytest.raises(ScreeningRefused, match="correlation"):
        pathway_simulate(
            Pathway.DOUBLE,
            scores=SCORES,
            cancer=CANCER,
            threshold=0.5,
            readers=Readers(0.8, 0.9, 0.7, 0.5, difficulty_correlation=0.99),
        )
    with pytest.raises(ScreeningRefused, match="one score and one truth"):
        pathway_simulate(
            Pathway.SINGLE, scores=SCORES, cancer=CANCER[:3], threshold=0.5, readers=READERS
        )
