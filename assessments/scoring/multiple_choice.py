"""Multiple choice (choose all that apply), with partial credit.

Rule: credit = max(0, (correct options chosen - wrong options chosen) / correct options),
so choosing every option scores 0 unless every option is correct, and one wrong choice
cancels one right one. Points = credit x max points.
"""

from __future__ import annotations

from assessments.scoring.base import AnswerError, FormValues, Score, points_of, require
from assessments.scoring.choice_options import chosen_indexes, correct_texts, options_validate


class MultipleChoiceScorer:
    kind = "multiple_choice"
    needs_ground_truth = False

    def validate_data(self, data: dict) -> dict:
        options = options_validate(data)
        require(
            any(option["correct"] for option in options),
            "Mark at least one option correct.",
        )
        return {**data, "options": options}

    def answer_from_form(self, data: dict, form: FormValues) -> list[int]:
        chosen = chosen_indexes(data, form)
        if not chosen:
            raise AnswerError("Choose at least one option.")
        return chosen

    def score(self, data: dict, answer, *, max_points: float, truth=None) -> Score:
        options = data["options"]
        correct = {i for i, option in enumerate(options) if option["correct"]}
        chosen = set(answer)
        right, wrong = len(chosen & correct), len(chosen - correct)
        credit = max(0.0, (right - wrong) / len(correct))
        feedback = (
            f"{right} of {len(correct)} correct options chosen, {wrong} wrong"
            f" (each wrong choice cancels a right one)."
            f" The correct options are: {correct_texts(data)}."
        )
        return Score(points_of(credit, max_points), feedback)

    def answer_key(self, data: dict) -> str:
        return correct_texts(data)
