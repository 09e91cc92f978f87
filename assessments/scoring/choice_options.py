"""Options shared by single and multiple choice: [{"text": str, "correct": bool}, ...]."""

from __future__ import annotations

from assessments.scoring.base import AnswerError, FormValues, require

MAX_OPTIONS = 20


def options_validate(data: dict) -> list[dict]:
    options = data.get("options")
    require(
        isinstance(options, list) and 2 <= len(options) <= MAX_OPTIONS,
        f"Give 'options' as a list of 2 to {MAX_OPTIONS} objects with 'text' and 'correct'.",
    )
    cleaned = []
    for number, option in enumerate(options, start=1):
        require(
            isinstance(option, dict) and str(option.get("text", "")).strip(),
            f"Option {number} needs a non-empty 'text'.",
        )
        cleaned.append(
            {
                "text": str(option["text"]).strip(),
                "correct": bool(option.get("correct", False)),
                "feedback": str(option.get("feedback", "")).strip(),
            }
        )
    return cleaned


def chosen_indexes(data: dict, form: FormValues) -> list[int]:
    """The original indexes of the chosen options (the form posts original indexes, so a
    shuffled display order never changes what is stored)."""
    count = len(data["options"])
    chosen = set()
    for value in form.get("choice", []):
        if not str(value).isdigit() or not 0 <= int(value) < count:
            raise AnswerError("That option is not one of this question's options.")
        chosen.add(int(value))
    return sorted(chosen)


def correct_texts(data: dict) -> str:
    return "; ".join(option["text"] for option in data["options"] if option["correct"])
