"""Single choice: exactly one option is correct; choosing it scores full points."""

from __future__ import annotations

from assessments.scoring.base import AnswerError, FormValues, Score, require
from assessments.scoring.choice_options import chosen_indexes, correct_texts, options_validate


class SingleChoiceScorer:
    kind = "single_choice"
    needs_ground_truth = False

    def validate_data(self, data: dict) -> dict:
        options = options_validate(data)
        require(
            sum(option["correct"] for option in options) == 1,
            "A single-choice question has exactly one option marked correct.",
        )
        return {**data, "options": options}

    def answer_from_form(self, data: dict, form: FormValues) -> list[int]:
        chosen = chosen_indexes(data, form)
        if len(chosen) != 1:
            raise AnswerError("Choose one option.")
        return chosen

    def score(self, data: dict, answer, *, max_points: float, truth=None) -> Score:
        index = answer[0]
        option = data["options"][index]
        if option["correct"]:
            return Score(max_points, option["feedback"] or "Correct.")
        # The authored feedback explains the mistake; the key is always named as the key so
        # a wrong answer's feedback never reads like a confirmation of it.
        lead = option["feedback"] or "Not quite."
        return Score(0.0, f"{lead} The correct answer is: {correct_texts(data)}.")

    def answer_key(self, data: dict) -> str:
        return correct_texts(data)
