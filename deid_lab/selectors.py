"""Reads for the de-identification lab."""

from __future__ import annotations

from dataclasses import dataclass

from accounts import permissions
from deid_lab.header_table import HeaderRow, header_rows
from deid_lab.models import DeidAttempt
from deid_lab.scoring import FindingScore
from deid_lab.seeding import seeded_study_build
from runs.lessons import lesson_exercise_ids
from studies.deidentify import PROFILE_OPTIONS_BY_KEY


def lesson_deid_exercise_ids(page) -> set[int]:
    """Primary keys of the de-identification exercises a lesson embeds."""
    return lesson_exercise_ids(page, block_type="deid")


def deid_attempts_for_user(*, user) -> list[DeidAttempt]:
    return list(
        DeidAttempt.objects.filter(permissions.visible_q(user, "deid_lab.attempts"))
        .select_related("exercise", "user", "lesson")
        .order_by("-created_at")[:100]
    )


def seeded_header_rows(*, attempt: DeidAttempt) -> list[HeaderRow]:
    """The header the resident inspects in step 1 (built from the exercise's variant)."""
    return header_rows(seeded_study_build(variant=attempt.exercise.variant).dataset)


@dataclass(frozen=True)
class AttemptView:
    """What the attempt page shows, already shaped for the template."""

    rows: list[HeaderRow]
    ticked: set[str]
    score: FindingScore | None
    chosen_titles: list[str]


def deid_attempt_view(*, attempt: DeidAttempt, with_header: bool = True) -> AttemptView:
    """`with_header=False` for the polled status fragment, which does not show the header."""
    score = FindingScore.from_json(attempt.finding_score) if attempt.finding_score else None
    return AttemptView(
        rows=seeded_header_rows(attempt=attempt) if with_header else [],
        ticked=set(attempt.findings or []),
        score=score,
        chosen_titles=[
            PROFILE_OPTIONS_BY_KEY[key].title
            for key in attempt.options
            if key in PROFILE_OPTIONS_BY_KEY
        ],
    )


def deid_attempt_by_pk(pk: int) -> DeidAttempt | None:
    """The attempt with its exercise, owner and lesson, or None (access: "deid_lab.*")."""
    return DeidAttempt.objects.select_related("exercise", "user", "lesson").filter(pk=pk).first()
