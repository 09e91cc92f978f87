"""The scorer protocol and the values scorers exchange."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# A submitted form as lists of strings per field name (QueryDict.lists()).
FormValues = Mapping[str, list[str]]


class QuestionDataError(ValueError):
    """The authored question data is unusable; the message tells the author what to fix."""


class AnswerError(ValueError):
    """A submitted answer is malformed; the message tells the resident what to change."""


@dataclass(frozen=True)
class Score:
    """`points` is None for examiner-marked kinds (an examiner decides)."""

    points: float | None
    feedback: str


@dataclass(frozen=True)
class GroundTruth:
    """A binary mask of one segment over an image series, in the series' slice order.

    `mask[k, row, column]` is True inside the segment on slice k; `sop_uids[k]` names that
    slice's image; `slice_positions_mm[k]` is its position along the slice normal, so that
    distances between slices are real millimetres (PS3.3 C.7.6.2.1.1).
    """

    mask: np.ndarray
    sop_uids: tuple[str, ...]
    pixel_spacing_mm: tuple[float, float]  # (between rows, between columns), PS3.3 10.7.1.3
    slice_positions_mm: tuple[float, ...]

    def slice_index(self, sop_uid: str) -> int | None:
        try:
            return self.sop_uids.index(sop_uid)
        except ValueError:
            return None


class Scorer(Protocol):
    kind: str
    needs_ground_truth: bool

    def validate_data(self, data: dict) -> dict:
        """The authored data, normalised; raises QuestionDataError."""

    def answer_from_form(self, data: dict, form: FormValues) -> Any:
        """The answer to store (JSON-serialisable); raises AnswerError."""

    def score(
        self, data: dict, answer: Any, *, max_points: float, truth: GroundTruth | None = None
    ) -> Score:
        """Points in [0, max_points] and a sentence of feedback for the resident."""

    def answer_key(self, data: dict) -> str:
        """The correct answer in words, shown with the feedback once allowed."""


# --- Shared checks, used by several scorers --------------------------------------------------


def require(condition: bool, message: str) -> None:
    if not condition:
        raise QuestionDataError(message)


def finite_number(value: Any, message: str, error=QuestionDataError) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise error(message) from None
    if not math.isfinite(number):
        raise error(message)
    return number


def form_value(form: FormValues, name: str) -> str:
    values = form.get(name) or [""]
    return (values[-1] or "").strip()


def clamp01(value: float) -> float:
    return max(0.0, min(1.0, value))


def points_of(fraction: float, max_points: float) -> float:
    return round(clamp01(fraction) * max_points, 4)


def linear_credit(value: float, *, zero_at: float, full_at: float) -> float:
    """0 at or below `zero_at`, 1 at or above `full_at`, a straight line between."""
    if value >= full_at:
        return 1.0
    if value <= zero_at:
        return 0.0
    return (value - zero_at) / (full_at - zero_at)
