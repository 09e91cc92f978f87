"""Lab report: free text plus the resident's own lab runs as evidence; examiner-marked.

The runs are attached by the delivery service (it checks they belong to the resident);
the scorer checks the text and how many runs are attached.
"""

from __future__ import annotations

from assessments.scoring.base import AnswerError, FormValues, Score, form_value, require

MAX_LENGTH = 20_000
MAX_RUNS = 10


class LabReportScorer:
    kind = "lab_report"
    needs_ground_truth = False

    def validate_data(self, data: dict) -> dict:
        minimum = data.get("min_runs", 1)
        require(
            isinstance(minimum, int) and 0 <= minimum <= MAX_RUNS,
            f"'min_runs' is a whole number from 0 to {MAX_RUNS}.",
        )
        return {**data, "min_runs": minimum}

    def answer_from_form(self, data: dict, form: FormValues) -> dict:
        text = form_value(form, "text")
        if not text:
            raise AnswerError("Write your report before saving.")
        if len(text) > MAX_LENGTH:
            raise AnswerError(f"Keep the report under {MAX_LENGTH} characters.")
        run_ids = []
        for value in form.get("lab_runs", []):
            if not str(value).isdigit():
                raise AnswerError("Choose lab runs from the list.")
            run_ids.append(int(value))
        if len(set(run_ids)) < data["min_runs"]:
            raise AnswerError(f"Attach at least {data['min_runs']} of your lab runs.")
        if len(set(run_ids)) > MAX_RUNS:
            raise AnswerError(f"Attach at most {MAX_RUNS} lab runs.")
        return {"text": text, "lab_run_ids": sorted(set(run_ids))}

    def score(self, data: dict, answer, *, max_points: float, truth=None) -> Score:
        return Score(None, "An examiner marks this report.")

    def answer_key(self, data: dict) -> str:
        return data.get("model_answer", "")
