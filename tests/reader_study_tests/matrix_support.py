"""Reader-study objects for the role matrix and the page tests: a study embedded in the demo
lesson, scripted readers, and a study the resident has started."""

from __future__ import annotations

from django.urls import reverse

from reader_study import services
from reader_study.cases import AIDED
from reader_study.models import ReaderStudyExercise

# A short study: 6 cases per arm, 2 of the 6 AI marks wrong (1 missed lesion, 1 false mark).
SHORT = {"cases_per_arm": 6, "wrong_share": 0.34}


def exercise_embed(lesson, **fields) -> ReaderStudyExercise:
    """A reader study in `lesson` (published again with the block)."""
    fields = {**SHORT, **fields}
    exercise = ReaderStudyExercise.objects.create(
        title=f"Automation bias, {fields['cases_per_arm']} cases a part", **fields
    )
    lesson.body.append(("reader_study", {"exercise": exercise, "introduction": "Read."}))
    lesson.save_revision().publish()
    lesson.refresh_from_db()
    return exercise


def scripted_rating(entry: dict, *, follows_ai: bool) -> int:
    """A reader who sees every lesion unaided (5 or 1); with AI marks shown, one who always
    follows the AI rates what the AI says, one who never does keeps reading for himself."""
    says_lesion = entry["ai_lesion"] if follows_ai and entry["arm"] == AIDED else entry["positive"]
    return 5 if says_lesion else 1


def session_finish(*, user, exercise, lesson, follows_ai: bool):
    session = services.reader_session_start(user=user, exercise=exercise, lesson=lesson)
    for entry in session.plan:
        session = services.reader_rating_record(
            session=session,
            position=entry["position"],
            rating=scripted_rating(entry, follows_ai=follows_ai),
        )
    return session


def reader_study_context(c: dict) -> dict:
    """Cached in the matrix context: a study and the resident's session, not yet finished."""
    if "reader_study" not in c:
        exercise = exercise_embed(c["lesson"])
        session = services.reader_session_start(
            user=c["people"]["resident"], exercise=exercise, lesson=c["lesson"]
        )
        c["reader_study"] = {"exercise": exercise, "session": session}
    return c["reader_study"]


def url(name: str, *args_from):
    """A matrix URL function: `args_from` names what to take from the context (or is a
    literal argument)."""

    def build(c: dict) -> str:
        objects = reader_study_context(c)
        args = [objects[key].pk if key in objects else key for key in args_from]
        return reverse(f"reader_study:{name}", args=args)

    return build


def lesson_data(c: dict) -> dict:
    reader_study_context(c)
    return {"lesson_id": c["lesson"].pk}
