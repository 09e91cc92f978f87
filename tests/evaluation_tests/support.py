"""Builders the cohort-lab tests share: exercises and a lesson that embeds one."""

from __future__ import annotations

from evaluation.models import CohortExercise, CohortExerciseKind


def cohort_exercise_make(*, kind: str = CohortExerciseKind.SWEEP, **overrides) -> CohortExercise:
    fields = {
        "title": f"Cohort lab ({kind})",
        "kind": kind,
        "model_key": "ct-lesion",
        "cohort_key": "ct-lesions-held-out",
        "case_count": 120,
        "questions": "Where does the AUC fall below 0.8?\nWhich site suffers first?",
    }
    if kind == CohortExerciseKind.SWEEP:
        fields.update(perturbation_key="gaussian-noise", severities="0, 100")
    if kind == CohortExerciseKind.SHORTCUT:
        fields.update(model_key="ct-lesion-shortcut", cohort_key="ct-lesions-shortcut")
    fields.update(overrides)
    exercise = CohortExercise(**fields)
    exercise.full_clean()
    exercise.save()
    return exercise


def lesson_embed(lesson, exercise: CohortExercise):
    """Append a cohort-lab block for `exercise` to the lesson's body (idempotent)."""
    from evaluation.selectors import lesson_cohort_exercise_ids

    if exercise.pk not in lesson_cohort_exercise_ids(lesson):
        lesson.body.append(("cohort_lab", {"exercise": exercise, "introduction": "Try it."}))
        lesson.save()
    return lesson
