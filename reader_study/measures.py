"""The reader study's numbers: pure functions of ratings, truth and the AI's suggestions.

A rating is on the 5-point scale of `RATING_SCALE`; a rating of 3 or more is a call of
"lesion present" (the reader would act on it), as in BI-RADS 3+ meaning "not normal".
AUC and its 95 % CI come from `zoo.evaluation` (Mann-Whitney, percentile bootstrap over
cases, fixed seed), the same code every model card and the cohort labs use; shares carry a
bootstrap interval from the same place. With 20 cases per arm these intervals are wide, and
the pages say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.evaluation import auc_with_interval, mean_with_interval

RATING_SCALE = (
    (1, "Definitely no lesion"),
    (2, "Probably no lesion"),
    (3, "Possibly a lesion"),
    (4, "Probably a lesion"),
    (5, "Definitely a lesion"),
)
CALL_FROM = 3  # ratings >= 3 are a "lesion present" call

# Dratsch et al., Radiology 2023;307(4):e222176: 27 readers, BI-RADS on 50 mammograms with
# AI suggestions, some deliberately wrong. Approximate shares of correct BI-RADS read off the
# paper's summary, by experience; quoted as approximate on every page that shows them.
PUBLISHED_EFFECT = (
    {"readers": "inexperienced", "ai_correct": 0.80, "ai_wrong": 0.20},
    {"readers": "very experienced", "ai_correct": 0.82, "ai_wrong": 0.45},
)


def lesion_call(ratings: np.ndarray) -> np.ndarray:
    return np.asarray(ratings) >= CALL_FROM


@dataclass(frozen=True)
class Share:
    """k of n, with a bootstrap 95 % interval (None when n is 0)."""

    count: int
    total: int
    value: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, hits: np.ndarray) -> Share:
        hits = np.asarray(hits, dtype=float)
        if len(hits) == 0:
            return cls(count=0, total=0, value=None, low=None, high=None)
        interval = mean_with_interval(values=hits)
        return cls(
            count=int(hits.sum()),
            total=len(hits),
            value=interval["value"],
            low=interval["low"],
            high=interval["high"],
        )

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "total": self.total,
            "value": self.value,
            "low": self.low,
            "high": self.high,
        }


def arm_measures(*, ratings: np.ndarray, positive: np.ndarray) -> dict:
    """AUC (with CI) of the ratings as a score, and the share of correct calls."""
    ratings = np.asarray(ratings, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    return {
        "auc": auc_with_interval(scores=ratings, positive=positive),
        "accuracy": Share.of(lesion_call(ratings) == positive).as_dict(),
        "positives": int(positive.sum()),
        "negatives": int((~positive).sum()),
    }


def suggestion_measures(
    *, ratings: np.ndarray, positive: np.ndarray, ai_lesion: np.ndarray
) -> dict:
    """How the reader's calls relate to the AI's suggestion, on the arm that showed it.

    followed_wrong: of the cases where the AI was wrong, the share where the reader's call
    agreed with the AI. overrode_correct: of the cases where the AI was right, the share
    where the reader's call went against it. accuracy_ai_correct / accuracy_ai_wrong: the
    share of correct calls in each group, the figures Dratsch et al. report.
    """
    calls = lesion_call(ratings)
    positive = np.asarray(positive, dtype=bool)
    ai_lesion = np.asarray(ai_lesion, dtype=bool)
    ai_wrong = ai_lesion != positive
    agrees = calls == ai_lesion
    correct = calls == positive
    return {
        "followed_wrong": Share.of(agrees[ai_wrong]).as_dict(),
        "overrode_correct": Share.of(~agrees[~ai_wrong]).as_dict(),
        "accuracy_ai_correct": Share.of(correct[~ai_wrong]).as_dict(),
        "accuracy_ai_wrong": Share.of(correct[ai_wrong]).as_dict(),
    }


def study_measures(
    *,
    unaided_ratings,
    unaided_positive,
    aided_ratings,
    aided_positive,
    aided_ai_lesion,
) -> dict:
    """Everything the result page shows for one reader."""
    return {
        "unaided": arm_measures(ratings=unaided_ratings, positive=unaided_positive),
        "aided": arm_measures(ratings=aided_ratings, positive=aided_positive),
        "suggestions": suggestion_measures(
            ratings=aided_ratings, positive=aided_positive, ai_lesion=aided_ai_lesion
        ),
    }


def cohort_measures(results: list[dict]) -> dict:
    """The cohort's aggregate over readers' stored `study_measures` (one per resident).

    AUCs and accuracies are averaged over readers, with a bootstrap CI over readers (the
    unit that varies in a reader study); suggestion counts are pooled over readers too.
    """

    def values(path: tuple[str, ...]) -> np.ndarray:
        out = []
        for result in results:
            value = result
            for key in path:
                value = value[key]
            if value is not None and np.isfinite(value):
                out.append(float(value))
        return np.array(out)

    def pooled(key: str) -> dict:
        count = sum(r["suggestions"][key]["count"] for r in results)
        total = sum(r["suggestions"][key]["total"] for r in results)
        return {"count": count, "total": total, "value": count / total if total else None}

    unaided = values(("unaided", "auc", "value"))
    aided = values(("aided", "auc", "value"))
    paired = [
        r["aided"]["auc"]["value"] - r["unaided"]["auc"]["value"]
        for r in results
        if np.isfinite(r["aided"]["auc"]["value"]) and np.isfinite(r["unaided"]["auc"]["value"])
    ]
    return {
        "readers": len(results),
        "auc_unaided": mean_with_interval(values=unaided),
        "auc_aided": mean_with_interval(values=aided),
        "auc_change": mean_with_interval(values=np.array(paired)),
        "accuracy_ai_correct": mean_with_interval(
            values=values(("suggestions", "accuracy_ai_correct", "value"))
        ),
        "accuracy_ai_wrong": mean_with_interval(
            values=values(("suggestions", "accuracy_ai_wrong", "value"))
        ),
        "followed_wrong": pooled("followed_wrong"),
        "overrode_correct": pooled("overrode_correct"),
    }
