"""An AI first reader in a screening programme that clears low-scoring cases unread.

The model, in full:

- Every case in the population has the AI's score and a truth (cancer or not).
- Cases scoring strictly below the threshold are cleared by the AI: no human reads them,
  and a cancer among them is missed. Threshold 0 clears nothing (every score is >= 0).
- Every other case is read by a human reader whose sensitivity and specificity the
  exercise sets. The reader is assumed independent of the AI given the truth (the human
  is no better or worse on the cases the AI finds hard), and counts are *expected* values:
  of the cancers read, a fraction `sensitivity` is recalled; of the non-cancers read, a
  fraction 1 - `specificity` is recalled. So numbers of cancers found may be fractional.
- The pathway (AI then human) recalls a case when the AI does not clear it and the human
  recalls it, so
      sensitivity = human sensitivity x P(score >= threshold | cancer)
      1 - specificity = (1 - human specificity) x P(score >= threshold | no cancer)
  and the AI's own operating point on its ROC curve is
      (false-positive rate, true-positive rate) = P(score >= threshold | no cancer / cancer).
- PPV at prevalence p follows from Bayes: sens p / (sens p + (1 - spec)(1 - p)); the
  pathway's sensitivity and specificity do not depend on p, its PPV does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class ScreeningRefused(ValueError):
    """The parameters describe no screening programme; the message says why."""


@dataclass(frozen=True)
class ScreeningOutcome:
    threshold: float
    cases: int
    cancers: int
    cleared: int  # cases the AI cleared without a human read
    human_reads: int
    ai_missed_cancers: int  # cancers among the cleared cases
    cancers_read: int
    non_cancers_read: int
    human_sensitivity: float
    human_specificity: float
    cancers_found: float  # expected
    false_recalls: float  # expected

    @property
    def workload_reduction(self) -> float:
        """Share of human reads saved compared with a human reading every case."""
        return self.cleared / self.cases

    @property
    def cancers_missed(self) -> float:
        """Expected: cleared by the AI, plus read but not recalled by the human."""
        return self.cancers - self.cancers_found

    @property
    def ai_true_positive_rate(self) -> float | None:
        return self.cancers_read / self.cancers if self.cancers else None

    @property
    def ai_false_positive_rate(self) -> float | None:
        non_cancers = self.cases - self.cancers
        return self.non_cancers_read / non_cancers if non_cancers else None

    @property
    def sensitivity(self) -> float | None:
        """Of the pathway (AI, then human)."""
        return self.cancers_found / self.cancers if self.cancers else None

    @property
    def specificity(self) -> float | None:
        non_cancers = self.cases - self.cancers
        return 1.0 - self.false_recalls / non_cancers if non_cancers else None

    @property
    def ppv(self) -> float | None:
        recalls = self.cancers_found + self.false_recalls
        return self.cancers_found / recalls if recalls else None


def _reader_check(sensitivity: float, specificity: float) -> None:
    for name, value in (("sensitivity", sensitivity), ("specificity", specificity)):
        if not 0.0 <= value <= 1.0:
            raise ScreeningRefused(f"The human reader's {name} must lie between 0 and 1.")


def screening_simulate(
    *,
    scores: Sequence[float] | np.ndarray,
    cancer: Sequence[bool] | np.ndarray,
    threshold: float,
    human_sensitivity: float,
    human_specificity: float,
) -> ScreeningOutcome:
    """The pathway on one population at one threshold (see the module docstring)."""
    _reader_check(human_sensitivity, human_specificity)
    scores = np.asarray(scores, dtype=float)
    cancer = np.asarray(cancer, dtype=bool)
    if scores.shape != cancer.shape or scores.ndim != 1 or len(scores) == 0:
        raise ScreeningRefused("Give one score and one truth per case, for at least one case.")
    read = scores >= threshold
    cancers_read = int((read & cancer).sum())
    non_cancers_read = int((read & ~cancer).sum())
    return ScreeningOutcome(
        threshold=float(threshold),
        cases=len(scores),
        cancers=int(cancer.sum()),
        cleared=int((~read).sum()),
        human_reads=int(read.sum()),
        ai_missed_cancers=int((~read & cancer).sum()),
        cancers_read=cancers_read,
        non_cancers_read=non_cancers_read,
        human_sensitivity=float(human_sensitivity),
        human_specificity=float(human_specificity),
        cancers_found=human_sensitivity * cancers_read,
        false_recalls=(1.0 - human_specificity) * non_cancers_read,
    )


def ppv_at(*, sensitivity: float, specificity: float, prevalence: float) -> float | None:
    """Positive predictive value by Bayes; None where nothing is ever recalled."""
    true = sensitivity * prevalence
    false = (1.0 - specificity) * (1.0 - prevalence)
    return true / (true + false) if true + false > 0 else None


@dataclass(frozen=True)
class ThresholdSweep:
    """The pathway at every threshold that changes it, for curves (ascending thresholds)."""

    thresholds: np.ndarray
    workload_reduction: np.ndarray
    cancers_missed: np.ndarray  # expected, AI and human together
    ai_missed_cancers: np.ndarray
    ai_true_positive_rate: np.ndarray
    ai_false_positive_rate: np.ndarray


def threshold_sweep(
    *,
    scores: Sequence[float] | np.ndarray,
    cancer: Sequence[bool] | np.ndarray,
    human_sensitivity: float,
    human_specificity: float,
    max_points: int = 400,
) -> ThresholdSweep:
    """`screening_simulate` at 0, at the distinct scores and just above the highest score.

    Counted in one pass over sorted scores (the same arithmetic as `screening_simulate`,
    which the tests check), so a population of 200 000 sweeps in milliseconds. Long sweeps
    keep `max_points` thresholds evenly spaced through the sorted distinct scores, first
    and last included, which is plenty for a curve.
    """
    _reader_check(human_sensitivity, human_specificity)
    scores = np.asarray(scores, dtype=float)
    cancer = np.asarray(cancer, dtype=bool)
    if scores.shape != cancer.shape or scores.ndim != 1 or len(scores) == 0:
        raise ScreeningRefused("Give one score and one truth per case, for at least one case.")
    distinct = np.unique(scores)
    if len(distinct) > max_points:
        keep = np.unique(np.linspace(0, len(distinct) - 1, max_points).round().astype(int))
        distinct = distinct[keep]
    above_all = np.nextafter(float(scores.max()), np.inf)
    thresholds = np.unique(np.concatenate([[0.0], distinct, [above_all]]))
    positive_sorted = np.sort(scores[cancer])
    negative_sorted = np.sort(scores[~cancer])
    cancers, non_cancers = len(positive_sorted), len(negative_sorted)
    # A case is read when its score >= threshold: count those at or above each threshold.
    cancers_read = cancers - np.searchsorted(positive_sorted, thresholds, side="left")
    non_cancers_read = non_cancers - np.searchsorted(negative_sorted, thresholds, side="left")
    cleared = len(scores) - cancers_read - non_cancers_read
    with np.errstate(invalid="ignore", divide="ignore"):
        true_positive_rate = np.where(cancers > 0, cancers_read / max(cancers, 1), np.nan)
        false_positive_rate = np.where(
            non_cancers > 0, non_cancers_read / max(non_cancers, 1), np.nan
        )
    return ThresholdSweep(
        thresholds=thresholds,
        workload_reduction=cleared / len(scores),
        cancers_missed=cancers - human_sensitivity * cancers_read,
        ai_missed_cancers=(cancers - cancers_read).astype(float),
        ai_true_positive_rate=true_positive_rate.astype(float),
        ai_false_positive_rate=false_positive_rate.astype(float),
    )
