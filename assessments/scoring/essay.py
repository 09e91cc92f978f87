"""Essay: free text, marked by an examiner (the grading app); no automatic score."""

from __future__ import annotations

from assessments.scoring.base import AnswerError, FormValues, Score, form_value

MAX_LENGTH = 20_000


class EssayScorer:
    kind = "essay"
    needs_ground_truth = False

    def validate_data(self, data: dict) -> dict:
        return {**data, "model_answer": str(data.get("model_answer", "")).strip()}

    def answer_from_form(self, data: dict, form: FormValues) -> str:
        text = form_value(form, "text")
        if not text:
            raise AnswerError("Write your answer before saving.")
        if len(text) > MAX_LENGTH:
            raise AnswerError(f"Keep the answer under {MAX_LENGTH} characters.")
        return text

    def score(self, data: dict, answer, *, max_points: float, truth=None) -> Score:
        return Score(None, "An examiner marks this answer.")

    def answer_key(self, data: dict) -> str:
        return data.get("model_answer", "")
