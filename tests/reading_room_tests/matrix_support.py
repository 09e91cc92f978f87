"""Reading-room objects for the role matrix (tests/test_role_matrix.py) and the page tests:
a triage and a screening exercise embedded in the demo lesson, the real model's scores over
the first cases of the held-out lesion cohort, and one simulation run by the resident."""

from __future__ import annotations

from django.urls import reverse

from reading_room import services
from reading_room.models import ReadingRoomExercise, ReadingRoomKind

# Small enough to score in about a second on one CPU thread, large enough for both classes.
MATRIX_SCORE_CASES = 40


def exercises_embed(lesson) -> dict[str, ReadingRoomExercise]:
    """A triage and a screening exercise in `lesson` (published again with both blocks)."""
    triage = ReadingRoomExercise.objects.create(
        title="PE worklist triage",
        kind=ReadingRoomKind.TRIAGE,
        finding="pulmonary embolism",
        prevalence=0.15,
        arrivals_per_hour=11,
        reading_minutes=5,
        shift_hours=8,
        radiologists=1,
        default_threshold=0.5,
        cohort_cases=MATRIX_SCORE_CASES,
    )
    screening = ReadingRoomExercise.objects.create(
        title="AI in a double-reading screening programme",
        kind=ReadingRoomKind.SCREENING,
        prevalence=0.008,
        population_size=20000,
        default_threshold=0.5,
        cohort_cases=MATRIX_SCORE_CASES,
    )
    lesson.body.append(("reading_room", {"exercise": triage, "introduction": "Triage."}))
    lesson.body.append(("reading_room", {"exercise": screening, "introduction": "Screening."}))
    lesson.save_revision().publish()
    lesson.refresh_from_db()
    return {"triage": triage, "screening": screening}


def scores_make_ready(*, cases: int = MATRIX_SCORE_CASES):
    """The real CT lesion model's scores over the first `cases` held-out cases, computed here."""
    score_set = services.score_set_request(source_key="ct-lesion-held-out", cases=cases)
    return services.score_set_execute(score_set_pk=score_set.pk) or score_set


def reading_room_context(c: dict) -> dict:
    """Cached in the matrix context: exercises, ready scores and a run by the resident."""
    if "reading_room" not in c:
        exercises = exercises_embed(c["lesson"])
        score_set = scores_make_ready()
        run = services.simulation_run_create(
            user=c["people"]["resident"],
            exercise=exercises["triage"],
            lesson=c["lesson"],
            threshold=0.5,
            policy="flag",
        )
        c["reading_room"] = {**exercises, "score_set": score_set, "run": run}
    return c["reading_room"]


def url(name: str, *args_from):
    """A matrix URL function: `args_from` names what to take from the reading-room context."""

    def build(c: dict) -> str:
        objects = reading_room_context(c)
        args = [objects[key].pk if key in objects else key for key in args_from]
        return reverse(f"reading_room:{name}", args=args)

    return build


def lesson_data(extra: dict | None = None):
    def build(c: dict) -> dict:
        reading_room_context(c)
        return {"lesson_id": c["lesson"].pk, **(extra or {})}

    return build
