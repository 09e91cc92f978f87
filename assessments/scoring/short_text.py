"""Short free text compared with accepted answers after normalisation.

Normalisation: Unicode NFKD with accents dropped, case folded, punctuation removed, runs of
whitespace collapsed ("Pneumo-thorax " == "pneumo thorax"). Full points when the normalised
answer equals a normalised accepted answer, else 0.
"""

from __future__ import annotations

import re
import unicodedata

from assessments.scoring.base import AnswerError, FormValues, Score, form_value, require

MAX_LENGTH = 200
_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"[\s_]+")


def text_normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    without_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = _PUNCTUATION.sub(" ", without_accents.casefold())
    return _SPACES.sub(" ", folded).strip()


class ShortTextScorer:
    kind = "short_text"
    needs_ground_truth = False

    def validate_data(self, data: dict) -> dict:
        accepted = data.get("accepted")
        require(
            isinstance(accepted, list) and any(str(a).strip() for a in accepted),
            "Give 'accepted' as a list of accepted answers.",
        )
        return {**data, "accepted": [str(a).strip() for a in accepted if str(a).strip()]}

    def answer_from_form(self, data: dict, form: FormValues) -> str:
        text = form_value(form, "text")
        if not text:
            raise AnswerError("Type an answer.")
        if len(text) > MAX_LENGTH:
            raise AnswerError(f"Keep the answer under {MAX_LENGTH} characters.")
        return text

    def score(self, data: dict, answer, *, max_points: float, truth=None) -> Score:
        accepted = {text_normalise(a) for a in data["accepted"]}
        if text_normalise(answer) in accepted:
            return Score(max_points, "Correct.")
        return Score(0.0, f"Not accepted. Accepted answers: {', '.join(data['accepted'])}.")

    def answer_key(self, data: dict) -> str:
        return ", ".join(data["accepted"])
