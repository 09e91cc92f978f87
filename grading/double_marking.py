"""The rules of marking, as pure functions (no database): easy to test by hand.

The rules, stated once:
- Single marking: the one mark is the agreed mark.
- Double marking: two examiners mark independently. When the two marks differ by more than
  the threshold (a percentage of the question's points; "more than": a difference exactly at
  the threshold still agrees), a moderator who is neither marker sets the agreed mark with a
  reason. Otherwise the agreed mark is the mean of the two, rounded to two decimals.
- A rubric mark is the sum of the chosen levels' points, scaled to the question's points
  when the rubric's total differs (a rubric out of 10 on a 20-point question counts double).
- A mark reaches the resident only once released; a resident may ask for a regrade of a
  released mark; the regrade's mark is released straight away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grading.models import MarkingState


class MarkingRefused(Exception):
    """The action is not possible in the marking's state, or the input is out of range.

    The message is written for the person who tried, and is shown to them.
    """


# Which state each action may start from.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "mark": frozenset({MarkingState.UNMARKED, MarkingState.AWAITING_SECOND}),
    "moderate": frozenset({MarkingState.MODERATION}),
    "release": frozenset({MarkingState.AGREED}),
    "regrade_request": frozenset({MarkingState.RELEASED}),
    "regrade": frozenset({MarkingState.REGRADE_REQUESTED}),
}


def action_check(action: str, state: str) -> None:
    if state not in ALLOWED_FROM[action]:
        raise MarkingRefused(
            f"This answer is {MarkingState(state).label.lower()}; it cannot be {_verb(action)} now."
        )


def _verb(action: str) -> str:
    return {
        "mark": "marked",
        "moderate": "moderated",
        "release": "released",
        "regrade_request": "sent for a regrade",
        "regrade": "regraded",
    }[action]


def mark_allowed(
    state: str, *, has_own_mark: bool, marks_given: int, double_marking: bool, agreed_source: str
) -> bool:
    """May this examiner give (or change) their mark now?

    A first or second mark while marks are still being collected; a change of one's own mark
    until the other mark is in; in single marking, a change until release, unless a
    moderator or a regrade has decided since (their decision is not silently overwritten).
    """
    from grading.models import AgreementSource

    if state == MarkingState.AGREED:
        return has_own_mark and not double_marking and agreed_source == AgreementSource.MARKS
    if state not in ALLOWED_FROM["mark"]:
        return False
    return has_own_mark or marks_given < (2 if double_marking else 1)


@dataclass(frozen=True)
class Decision:
    """Where the marks leave a marking: its new state and, once agreed, the agreed points."""

    state: str
    agreed_points: float | None = None
    difference_percent: float | None = None


def difference_percent(first: float, second: float, *, max_points: float) -> float:
    """How far apart two marks are, as a percentage of the question's points."""
    return abs(first - second) * 100.0 / max_points


def marks_decide(
    points: Sequence[float], *, max_points: float, double_marking: bool, threshold_percent: float
) -> Decision:
    """Apply the rules above to the marks given so far (in the order they were given)."""
    if not points:
        return Decision(MarkingState.UNMARKED)
    if not double_marking:
        return Decision(MarkingState.AGREED, agreed_points=round(points[0], 2))
    if len(points) == 1:
        return Decision(MarkingState.AWAITING_SECOND)
    first, second = points[0], points[1]
    apart = difference_percent(first, second, max_points=max_points)
    if apart > threshold_percent:
        return Decision(MarkingState.MODERATION, difference_percent=apart)
    return Decision(
        MarkingState.AGREED, agreed_points=round((first + second) / 2, 2), difference_percent=apart
    )


def points_check(points: float, *, max_points: float) -> float:
    if not 0 <= points <= max_points:
        raise MarkingRefused(f"Give between 0 and {max_points:g} points.")
    return float(points)


@dataclass(frozen=True)
class CriterionChoice:
    """One rubric criterion and the level an examiner chose for it."""

    criterion: str
    level_points: float
    criterion_max: float
    descriptor: str = ""
    feedback: str = ""


def rubric_points(choices: Sequence[CriterionChoice], *, max_points: float) -> float:
    """The sum of the chosen levels, scaled from the rubric's total to the question's points."""
    rubric_max = sum(choice.criterion_max for choice in choices)
    if rubric_max <= 0:
        raise MarkingRefused("This rubric has no points to give.")
    for choice in choices:
        if not 0 <= choice.level_points <= choice.criterion_max:
            raise MarkingRefused(f"Choose one of the levels of “{choice.criterion}”.")
    total = sum(choice.level_points for choice in choices)
    return round(total * max_points / rubric_max, 2)
