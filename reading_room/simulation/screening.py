"""Screening pathways as European programmes run them, with and without an AI reader.

The model, in full:

- Every case in the population has the AI's score and a truth (cancer or not). "Cancer"
  means present at screening (detectable or not): a cancer the pathway does not recall is
  missed at screening and surfaces as an interval cancer or at the next round.
- A human reader recalls a cancer with probability `sensitivity` and a non-cancer with
  probability 1 - `specificity`. Counts are *expected* values (sums of per-case
  probabilities), so they may be fractional and every run is exactly reproducible.
- Human readers are conditionally independent given the case. By default the case does
  not matter either (every cancer is equally hard), which makes human and AI errors
  independent. With `difficulty_correlation` rho > 0 each case carries a shared latent
  difficulty z, taken from the AI's own score: z = Phi^-1((rank - 1/2) / n), the normal
  score of the case's rank among the cases of its class (ties share a rank). A reader's
  latent is sqrt(rho) z + sqrt(1 - rho) e with private noise e, so
      P(recall | z) = Phi((Phi^-1(m) + sqrt(rho) z) / sqrt(1 - rho)),
  m being the reader's marginal rate (sensitivity for cancers, 1 - specificity for the
  others). The cancers the AI scores low are then the ones humans miss, and the normal
  tissue the AI finds suspicious is the tissue humans recall; the readers also agree with
  each other more. The marginal rates stay (about) as set; only who errs on what changes.
- An arbitrator settles discordant reads: it recalls a discordant cancer with probability
  `arbitration_sensitivity` and a discordant non-cancer with 1 - `arbitration_specificity`
  (through the same latent difficulty).

Pathways (a = 1 when the AI score is at or above the threshold; p, q the reader's and the
arbitrator's recall probability for the case):

    single        one reader                              recall p                     reads 1
    double        two readers, arbitration if discordant  p^2 + 2p(1-p) q              2 + 2p(1-p)
    masai         a = 0: single reading; a = 1: double reading with arbitration (Lång et
                  al. 2023, MASAI: the AI's risk score sends low scores to one reader,
                  high scores to two)
    screentrust   one reader and the AI as the second, independent reader; discordant
                  pairs go to arbitration (Dembrower et al. 2023, ScreenTrustCAD)
                  recall a p + (a(1-p) + (1-a)p) q                     reads 1 + a(1-p) + (1-a)p

Reads count every human read, arbitration included; workload is compared with double
reading, the European baseline. PPV at another prevalence follows from Bayes:
sens p / (sens p + (1 - spec)(1 - p)).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

MAX_DIFFICULTY_CORRELATION = 0.9


class ScreeningRefused(ValueError):
    """The parameters describe no screening programme; the message says why."""


class Pathway(enum.StrEnum):
    SINGLE = "single"
    DOUBLE = "double"
    MASAI = "masai"
    SCREENTRUST = "screentrust"


PATHWAY_TITLES = {
    Pathway.SINGLE: "Single reading",
    Pathway.DOUBLE: "Double reading with arbitration (baseline)",
    Pathway.MASAI: "MASAI-style: AI triages to single or double reading",
    Pathway.SCREENTRUST: "ScreenTrustCAD-style: AI replaces the second reader",
}
AI_PATHWAYS = (Pathway.MASAI, Pathway.SCREENTRUST)


@dataclass(frozen=True)
class Readers:
    sensitivity: float
    specificity: float
    arbitration_sensitivity: float
    arbitration_specificity: float
    difficulty_correlation: float = 0.0

    def check(self) -> None:
        for name in (
            "sensitivity",
            "specificity",
            "arbitration_sensitivity",
            "arbitration_specificity",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ScreeningRefused(
                    f"The reader's {name.replace('_', ' ')} must lie between 0 and 1."
                )
        if not 0.0 <= self.difficulty_correlation <= MAX_DIFFICULTY_CORRELATION:
            raise ScreeningRefused(
                f"The correlation of errors must lie between 0 and {MAX_DIFFICULTY_CORRELATION}."
            )


def case_difficulty(*, scores: np.ndarray, cancer: np.ndarray) -> np.ndarray:
    """The shared latent z of every case: the normal score of its AI rank within its class."""
    z = np.zeros(len(scores))
    for group in (cancer, ~cancer):
        n = int(group.sum())
        if n:
            z[group] = ndtri((rankdata(scores[group]) - 0.5) / n)
    return z


def recall_probability(*, marginal: float, z: np.ndarray, rho: float) -> np.ndarray:
    """P(a reader with this marginal rate recalls the case | its latent difficulty z)."""
    if rho == 0.0:
        return np.full(len(z), float(marginal))
    return ndtr((ndtri(marginal) + np.sqrt(rho) * z) / np.sqrt(1.0 - rho))


@dataclass(frozen=True)
class CaseProbabilities:
    """Per case: the reader's (p) and the arbitrator's (q) recall probability."""

    reader: np.ndarray
    arbitrator: np.ndarray


def case_probabilities(
    *, scores: np.ndarray, cancer: np.ndarray, readers: Readers
) -> CaseProbabilities:
    z = case_difficulty(scores=scores, cancer=cancer)
    rho = readers.difficulty_correlation
    reader = np.where(
        cancer,
        recall_probability(marginal=readers.sensitivity, z=z, rho=rho),
        recall_probability(marginal=1.0 - readers.specificity, z=z, rho=rho),
    )
    arbitrator = np.where(
        cancer,
        recall_probability(marginal=readers.arbitration_sensitivity, z=z, rho=rho),
        recall_probability(marginal=1.0 - readers.arbitration_specificity, z=z, rho=rho),
    )
    return CaseProbabilities(reader=reader, arbitrator=arbitrator)


def _per_case(pathway: Pathway, *, ai_positive, p, q) -> tuple[np.ndarray, np.ndarray]:
    """(recall probability, expected human reads) of every case under the pathway."""
    a = np.asarray(ai_positive, dtype=float)
    single = (p, np.ones_like(p))
    discordant = 2.0 * p * (1.0 - p)
    double = (p * p + discordant * q, 2.0 + discordant)
    if pathway is Pathway.SINGLE:
        return single
    if pathway is Pathway.DOUBLE:
        return double
    if pathway is Pathway.MASAI:
        return (
            np.where(a > 0, double[0], single[0]),
            np.where(a > 0, double[1], single[1]),
        )
    ai_human_discordant = a * (1.0 - p) + (1.0 - a) * p
    return a * p + ai_human_discordant * q, 1.0 + ai_human_discordant


@dataclass(frozen=True)
class PathwayOutcome:
    pathway: Pathway
    threshold: float | None  # None for the pathways without the AI
    cases: int
    cancers: int
    cancers_found: float  # expected
    false_recalls: float  # expected
    human_reads: float  # expected, arbitration included
    ai_flags: int  # cases the AI scored at or above the threshold

    @property
    def recalls(self) -> float:
        return self.cancers_found + self.false_recalls

    @property
    def recall_rate(self) -> float:
        return self.recalls / self.cases

    @property
    def cancers_missed(self) -> float:
        """Missed at screening: interval cancers (or found at the next round)."""
        return self.cancers - self.cancers_found

    @property
    def sensitivity(self) -> float | None:
        return self.cancers_found / self.cancers if self.cancers else None

    @property
    def specificity(self) -> float | None:
        non_cancers = self.cases - self.cancers
        return 1.0 - self.false_recalls / non_cancers if non_cancers else None

    @property
    def ppv(self) -> float | None:
        return self.cancers_found / self.recalls if self.recalls else None

    def per_thousand(self, count: float) -> float:
        return 1000.0 * count / self.cases


def _inputs(scores, cancer) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=float)
    cancer = np.asarray(cancer, dtype=bool)
    if scores.shape != cancer.shape or scores.ndim != 1 or len(scores) == 0:
        raise ScreeningRefused("Give one score and one truth per case, for at least one case.")
    return scores, cancer


def pathway_simulate(
    pathway: Pathway,
    *,
    scores: Sequence[float] | np.ndarray,
    cancer: Sequence[bool] | np.ndarray,
    threshold: float,
    readers: Readers,
) -> PathwayOutcome:
    """One pathway on one population (see the module docstring)."""
    readers.check()
    pathway = Pathway(pathway)
    scores, cancer = _inputs(scores, cancer)
    probabilities = case_probabilities(scores=scores, cancer=cancer, readers=readers)
    ai_positive = scores >= threshold
    recall, reads = _per_case(
        pathway, ai_positive=ai_positive, p=probabilities.reader, q=probabilities.arbitrator
    )
    uses_ai = pathway in AI_PATHWAYS
    return PathwayOutcome(
        pathway=pathway,
        threshold=float(threshold) if uses_ai else None,
        cases=len(scores),
        cancers=int(cancer.sum()),
        cancers_found=float(recall[cancer].sum()),
        false_recalls=float(recall[~cancer].sum()),
        human_reads=float(reads.sum()),
        ai_flags=int(ai_positive.sum()),
    )


def pathways_compare(
    *,
    scores: Sequence[float] | np.ndarray,
    cancer: Sequence[bool] | np.ndarray,
    threshold: float,
    readers: Readers,
) -> dict[Pathway, PathwayOutcome]:
    return {
        pathway: pathway_simulate(
            pathway, scores=scores, cancer=cancer, threshold=threshold, readers=readers
        )
        for pathway in Pathway
    }


def ppv_at(*, sensitivity: float, specificity: float, prevalence: float) -> float | None:
    """Positive predictive value by Bayes; None where nothing is ever recalled."""
    true = sensitivity * prevalence
    false = (1.0 - specificity) * (1.0 - prevalence)
    return true / (true + false) if true + false > 0 else None


@dataclass(frozen=True)
class ThresholdSweep:
    """The AI pathways at every threshold that changes them (ascending thresholds)."""

    thresholds: np.ndarray
    ai_true_positive_rate: np.ndarray
    ai_false_positive_rate: np.ndarray
    human_reads: dict[Pathway, np.ndarray]
    cancers_missed: dict[Pathway, np.ndarray]
    recalls: dict[Pathway, np.ndarray]


def threshold_sweep(
    *,
    scores: Sequence[float] | np.ndarray,
    cancer: Sequence[bool] | np.ndarray,
    readers: Readers,
    max_points: int = 300,
) -> ThresholdSweep:
    """`pathway_simulate` for the AI pathways at 0, at the distinct scores and just above the
    highest, in one pass over sorted scores (the tests check it against single runs).

    At threshold t a case counts with its AI-positive terms when score >= t, so the totals
    are a prefix sum of the negative terms plus a suffix sum of the positive ones. Long
    sweeps keep `max_points` thresholds evenly spaced through the sorted distinct scores.
    """
    readers.check()
    scores, cancer = _inputs(scores, cancer)
    probabilities = case_probabilities(scores=scores, cancer=cancer, readers=readers)
    distinct = np.unique(scores)
    if len(distinct) > max_points:
        keep = np.unique(np.linspace(0, len(distinct) - 1, max_points).round().astype(int))
        distinct = distinct[keep]
    above_all = np.nextafter(float(scores.max()), np.inf)
    thresholds = np.unique(np.concatenate([[0.0], distinct, [above_all]]))
    order = np.argsort(scores, kind="stable")
    below = np.searchsorted(scores[order], thresholds, side="left")  # cases under t

    def totals(values_negative: np.ndarray, values_positive: np.ndarray) -> np.ndarray:
        prefix = np.concatenate([[0.0], np.cumsum(values_negative[order])])
        suffix = np.concatenate([np.cumsum(values_positive[order][::-1])[::-1], [0.0]])
        return prefix[below] + suffix[below]

    p, q = probabilities.reader, probabilities.arbitrator
    cancers = int(cancer.sum())
    human_reads, cancers_missed, recalls = {}, {}, {}
    for pathway in AI_PATHWAYS:
        recall_0, reads_0 = _per_case(pathway, ai_positive=np.zeros(len(p)), p=p, q=q)
        recall_1, reads_1 = _per_case(pathway, ai_positive=np.ones(len(p)), p=p, q=q)
        human_reads[pathway] = totals(reads_0, reads_1)
        recalls[pathway] = totals(recall_0, recall_1)
        cancers_missed[pathway] = cancers - totals(recall_0 * cancer, recall_1 * cancer)
    positives_above = totals(np.zeros(len(p)), cancer.astype(float))
    negatives_above = totals(np.zeros(len(p)), (~cancer).astype(float))
    non_cancers = len(scores) - cancers
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = positives_above / cancers if cancers else np.full(len(thresholds), np.nan)
        fpr = negatives_above / non_cancers if non_cancers else np.full(len(thresholds), np.nan)
    return ThresholdSweep(
        thresholds=thresholds,
        ai_true_positive_rate=tpr,
        ai_false_positive_rate=fpr,
        human_reads=human_reads,
        cancers_missed=cancers_missed,
        recalls=recalls,
    )
