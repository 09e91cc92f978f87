"""Case rating (a small reader study): rate several cases; scored by ROC AUC against truth.

Data: {"scale": "likert" (1-5) | "probability" (0-100), "cases": [{"label": str,
"study_uid": str (optional, shown in the viewer), "positive": bool}, ...]} with at least
one positive and one negative case.
AUC is the Mann-Whitney statistic: the share of (positive, negative) case pairs where the
positive case got the higher rating, ties counting one half.
Rule: credit = (AUC - 0.5) / 0.5, floored at 0: chance-level rating earns nothing, a
perfect ranking earns full points.
"""

from __future__ import annotations

from assessments.scoring.base import (
    AnswerError,
    FormValues,
    Score,
    finite_number,
    form_value,
    points_of,
    require,
)

SCALES = {"likert": (1.0, 5.0), "probability": (0.0, 100.0)}
MAX_CASES = 50


def roc_auc(ratings: list[float], truths: list[bool]) -> float:
    positives = [r for r, t in zip(ratings, truths, strict=True) if t]
    negatives = [r for r, t in zip(ratings, truths, strict=True) if not t]
    pairs = len(positives) * len(negatives)
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / pairs


class CaseRatingScorer:
    kind = "case_rating"
    needs_ground_truth = False

    def validate_data(self, data: dict) -> dict:
        scale = data.get("scale", "likert")
        require(scale in SCALES, "'scale' is 'likert' (1-5) or 'probability' (0-100).")
        cases = data.get("cases")
        require(
            isinstance(cases, list) and 2 <= len(cases) <= MAX_CASES,
            f"Give 'cases' as a list of 2 to {MAX_CASES} cases.",
        )
        cleaned = []
        for number, case in enumerate(cases, start=1):
            require(
                isinstance(case, dict) and str(case.get("label", "")).strip(),
                f"Case {number} needs a 'label'.",
            )
            require(
                isinstance(case.get("positive"), bool),
                f"Case {number} needs 'positive': true or false.",
            )
            cleaned.append({**case, "label": str(case["label"]).strip()})
        truths = [case["positive"] for case in cleaned]
        require(
            any(truths) and not all(truths), "Give at least one positive and one negative case."
        )
        return {**data, "scale": scale, "cases": cleaned}

    def answer_from_form(self, data: dict, form: FormValues) -> list[float]:
        low, high = SCALES[data["scale"]]
        ratings = []
        for index, case in enumerate(data["cases"]):
            text = form_value(form, f"rating_{index}")
            if not text:
                raise AnswerError(f"Rate every case; '{case['label']}' has no rating.")
            value = finite_number(
                text, f"Rating for '{case['label']}' is not a number.", AnswerError
            )
            if not low <= value <= high:
                raise AnswerError(f"Ratings are from {low:g} to {high:g}.")
            ratings.append(value)
        return ratings

    def score(self, data: dict, answer, *, max_points: float, truth=None) -> Score:
        auc = roc_auc(answer, [case["positive"] for case in data["cases"]])
        credit = max(0.0, (auc - 0.5) / 0.5)
        return Score(
            points_of(credit, max_points),
            f"Your ratings separate positive from negative cases with AUC {auc:.2f}"
            " (0.5 is chance, 1 is perfect).",
        )

    def answer_key(self, data: dict) -> str:
        return "; ".join(
            f"{case['label']}: {'positive' if case['positive'] else 'negative'}"
            for case in data["cases"]
        )
