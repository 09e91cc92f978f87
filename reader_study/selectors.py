"""Reads of the reader study; the cohort aggregate is withheld below `AGGREGATE_MIN_READERS`."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Role
from reader_study.cases import AIDED, UNAIDED
from reader_study.measures import PUBLISHED_EFFECT, RATING_SCALE, cohort_measures, lesion_call
from reader_study.models import ReaderSession
from runs.answers import line_question_prompts, run_answers_complete
from runs.lessons import lesson_exercise_ids

# An educator sees the cohort's aggregate only once this many residents finished the study,
# so no one resident's ratings can be read off it.
AGGREGATE_MIN_READERS = 5


def lesson_reader_study_exercise_ids(page) -> set[int]:
    """Primary keys of the reader studies a lesson embeds."""
    return lesson_exercise_ids(page, block_type="reader_study")


def session_next_position(*, session: ReaderSession) -> int | None:
    """The case due next (cases are rated strictly in order), or None when all are rated."""
    rated = session.ratings.count()
    return rated if rated < len(session.plan) else None


def session_for_user(*, user, exercise) -> ReaderSession | None:
    if not user.is_authenticated:
        return None
    return ReaderSession.objects.filter(exercise=exercise, user=user).first()


def lesson_participations(*, user, lesson_ids=None):
    """This user's finished reader sessions started from a lesson (a queryset, so that a
    caller can ask for them in one query with other reads)."""
    sessions = ReaderSession.objects.filter(
        user=user, finished_at__isnull=False, lesson__isnull=False
    )
    if lesson_ids is not None:
        sessions = sessions.filter(lesson_id__in=list(lesson_ids))
    return sessions


def participation_counts(*, questions: str, answers: dict | None) -> bool:
    """Whether a finished session counts as taking part: the study's written questions (its
    exercise's `questions` text) all answered on it, when it asks any."""
    return run_answers_complete(prompts=line_question_prompts(questions), answers=answers)


def lesson_ids_participated(*, user, lesson_ids=None) -> set[int]:
    """Lessons in which this user finished a reader study (taking part is what counts, with
    the study's written questions answered when it asks any)."""
    return {
        session.lesson_id
        for session in lesson_participations(user=user, lesson_ids=lesson_ids).select_related(
            "exercise"
        )
        if participation_counts(questions=session.exercise.questions, answers=session.answers)
    }


def arm_sizes(plan: list[dict]) -> dict[str, int]:
    return {arm: sum(1 for entry in plan if entry["arm"] == arm) for arm in (UNAIDED, AIDED)}


@dataclass(frozen=True)
class CaseReview:
    """One case on the result page: what was there, what the AI said, what the reader said."""

    entry: dict
    rating: int
    rating_label: str
    called_lesion: bool
    correct: bool
    followed_wrong_mark: bool


def session_review(*, session: ReaderSession) -> list[CaseReview]:
    """The aided arm's cases for the owner's review, wrong AI marks first."""
    ratings = dict(session.ratings.values_list("position", "rating"))
    labels = dict(RATING_SCALE)
    reviews = []
    for entry in session.plan:
        if entry["arm"] != AIDED or entry["position"] not in ratings:
            continue
        rating = ratings[entry["position"]]
        called = bool(lesion_call(rating))
        reviews.append(
            CaseReview(
                entry=entry,
                rating=rating,
                rating_label=labels[rating],
                called_lesion=called,
                correct=called == entry["positive"],
                followed_wrong_mark=bool(entry["ai_wrong"]) and called == entry["ai_lesion"],
            )
        )
    reviews.sort(key=lambda review: (not review.entry["ai_wrong"], review.entry["position"]))
    return reviews


@dataclass(frozen=True)
class CohortSummary:
    readers: int
    shown: bool
    measures: dict | None
    published: tuple[dict, ...] = PUBLISHED_EFFECT
    minimum: int = AGGREGATE_MIN_READERS


def cohort_summary(*, exercise) -> CohortSummary:
    """The aggregate of the residents who finished `exercise`, or only their number while
    fewer than `AGGREGATE_MIN_READERS` did. Staff who tried the study are not counted."""
    results = list(
        ReaderSession.objects.filter(
            exercise=exercise, finished_at__isnull=False, user__role=Role.RESIDENT
        ).values_list("results", flat=True)
    )
    if len(results) < AGGREGATE_MIN_READERS:
        return CohortSummary(readers=len(results), shown=False, measures=None)
    return CohortSummary(readers=len(results), shown=True, measures=cohort_measures(results))


def reader_session_by_pk(pk: int) -> ReaderSession | None:
    """The session with its exercise and lesson, or None (access: "reader_study.open_session")."""
    return ReaderSession.objects.select_related("exercise", "lesson").filter(pk=pk).first()


def sessions_answered(*, exercise) -> list[ReaderSession]:
    """Sessions of this study whose resident wrote answers, newest first: what educators
    read (the answers, never the ratings; "reader_study.read_answers")."""
    return list(
        ReaderSession.objects.filter(exercise=exercise, answered_at__isnull=False)
        .select_related("user")
        .order_by("-answered_at")
    )
