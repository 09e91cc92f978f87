"""A lesson with a cohort lab now completes only when the run succeeded and its questions
were answered beside the result (before, a succeeded run was enough). What residents had
completed under the earlier rule, and the certificates built on it, is not taken back: each
such completion is recorded as LEGACY, which keeps counting (as migration 0006 did for
hand-marked completions)."""

from django.db import migrations


def cohort_lab_completions_keep_counting(apps, schema_editor):
    cohort_run = apps.get_model("evaluation", "CohortRun")
    pairs = set(
        cohort_run.objects.filter(status="succeeded", lesson__isnull=False).values_list(
            "user_id", "lesson_id"
        )
    )
    if not pairs:  # a fresh install, or nobody ran a cohort lab from a lesson
        return
    # Whether a lesson was complete under the earlier rule depends on every lab family and
    # quiz of its body (StreamField blocks, question ids drawn from the prompts): the
    # selectors' own code decides, with the earlier rule's set of answered families. It
    # reads the current models; this migration depends on the latest migration of every
    # app they read, so their tables are as the code expects when it runs.
    from accounts.models import User
    from curriculum.models import CompletionSource, LessonCompletion, LessonPage
    from curriculum.selectors import (
        ANSWERED_IN_THE_LAB_BEFORE_COHORT_ANSWERS,
        STANDING_SOURCES,
        _lessons_completed,
        lesson_work,
    )

    lesson_ids = {lesson_id for _user_id, lesson_id in pairs}
    lessons = {lesson.pk: lesson for lesson in LessonPage.objects.filter(pk__in=lesson_ids)}
    for user_id, lesson_id in sorted(pairs):
        lesson = lessons.get(lesson_id)
        user = User.objects.filter(pk=user_id).first()
        if lesson is None or user is None:
            continue
        kept = LessonCompletion.objects.filter(user=user, lesson=lesson).first()
        if kept is not None and kept.source in STANDING_SOURCES:
            continue
        earlier = _lessons_completed(
            user=user,
            work={lesson.pk: lesson_work(lesson)},
            answered=ANSWERED_IN_THE_LAB_BEFORE_COHORT_ANSWERS,
        )
        if lesson.pk not in earlier:
            continue
        if kept is None:
            LessonCompletion.objects.create(
                user=user, lesson=lesson, source=CompletionSource.LEGACY
            )
        else:  # a "mark complete" that no longer counts on a lesson with labs
            kept.source = CompletionSource.LEGACY
            kept.save(update_fields=["source"])


class Migration(migrations.Migration):
    dependencies = [
        ("curriculum", "0007_alter_lessonpage_body"),
        # The latest migration of every app whose models the selectors read.
        ("accounts", "0003_external_identity"),
        ("assessments", "0004_assessment_key_released_at"),
        ("deid_lab", "0003_exercise_questions"),
        ("evaluation", "0003_cohort_chunks"),
        ("labs", "0004_lab_kind_prompt"),
        ("model_builder", "0002_leakage_exercise"),
        ("reader_study", "0002_exercise_questions"),
        ("reading_room", "0006_exercise_questions"),
    ]

    operations = [
        migrations.RunPython(cohort_lab_completions_keep_counting, migrations.RunPython.noop),
    ]
