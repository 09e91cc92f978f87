"""A number with a unit, correct within an absolute tolerance.

Data: {"answer": 42.0, "tolerance": 2.0, "unit": "mm"}; the tolerance is in `unit`.
Rule: the submitted value is converted into the question's unit, then it scores full points
when |value - answer| <= tolerance, else 0. Lengths convert between mm, cm and m; a unit
outside a family (HU, %, ...) must be given as authored and converts to nothing else.
"""

from __future__ import annotations

from assessments.scoring.base import (
    AnswerError,
    FormValues,
    Score,
    finite_number,
    form_value,
    require,
)

# Factor to the family's base unit; units in one family convert into each other.
LENGTH_UNITS_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0}
UNIT_FAMILIES = (LENGTH_UNITS_TO_MM,)


def _family(unit: str) -> dict[str, float] | None:
    return next((family for family in UNIT_FAMILIES if unit in family), None)


def units_accepted(unit: str) -> list[str]:
    family = _family(unit)
    return list(family) if family else ([unit] if unit else [""])


def value_convert(value: float, *, from_unit: str, to_unit: str) -> float:
    if from_unit == to_unit:
        return value
    family = _family(to_unit)
    if family is None or from_unit not in family:
        raise AnswerError(f"Give the answer in {to_unit or 'no unit'}.")
    return value * family[from_unit] / family[to_unit]


def _display(number: float) -> str:
    return f"{number:g}"


class NumericScorer:
    kind = "numeric"
    needs_ground_truth = False

    def validate_data(self, data: dict) -> dict:
        answer = finite_number(data.get("answer"), "Give 'answer' as a number.")
        tolerance = finite_number(data.get("tolerance", 0), "Give 'tolerance' as a number.")
        require(tolerance >= 0, "'tolerance' cannot be negative.")
        unit = str(data.get("unit", "")).strip()
        require(len(unit) <= 16, "'unit' is at most 16 characters.")
        return {**data, "answer": answer, "tolerance": tolerance, "unit": unit}

    def answer_from_form(self, data: dict, form: FormValues) -> dict:
        text = form_value(form, "value").replace(",", ".")
        if not text:
            raise AnswerError("Enter a number.")
        value = finite_number(text, f"'{text[:30]}' is not a number.", error=AnswerError)
        unit = form_value(form, "unit") or data["unit"]
        if unit not in units_accepted(data["unit"]):
            raise AnswerError(f"Give the answer in {' or '.join(units_accepted(data['unit']))}.")
        return {"value": value, "unit": unit}

    def score(self, data: dict, answer, *, max_points: float, truth=None) -> Score:
        value = value_convert(answer["value"], from_unit=answer["unit"], to_unit=data["unit"])
        error = abs(value - data["answer"])
        unit = f" {data['unit']}" if data["unit"] else ""
        if error <= data["tolerance"] + 1e-9:
            return Score(max_points, f"Correct: {_display(value)}{unit} is within tolerance.")
        return Score(
            0.0,
            f"{_display(value)}{unit} is {_display(error)}{unit} away from the answer"
            f" (tolerance ±{_display(data['tolerance'])}{unit}).",
        )

    def answer_key(self, data: dict) -> str:
        unit = f" {data['unit']}" if data["unit"] else ""
        return f"{_display(data['answer'])}{unit} ± {_display(data['tolerance'])}{unit}"
