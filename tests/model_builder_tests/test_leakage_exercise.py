"""The model builder's leakage exercise embedded in module 9 (issue 15): the course loads it
as a lesson block, a resident trains the lesion cohort once per split from the lesson, meets
the leak on the held-out set, answers the questions beside the result, and the lesson
completes only then. Training is real (the trainer child), with a tiny exercise."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.services import enrolment_create
from curriculum.selectors import lesson_is_completed
from curriculum.services import curriculum_content_load
from model_builder import services
from model_builder.models import BuilderExercise, TrainingRun, TrainingRunStatus
from tests.lesson_pages import lesson_page_read

pytestmark = pytest.mark.django_db

LESSON = "building-your-own-model/labels-and-leakage"
EXERCISE_TITLE = "Leakage in your own model: split by patient, then by image"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def leakage_lesson(people):
    course, _report = curriculum_content_load(only_lessons={LESSON})
    enrolment_create(user=people["resident"], course=course)
    from curriculum.models import LessonPage

    lesson = LessonPage.objects.get(slug="labels-and-leakage")
    exercise = BuilderExercise.objects.get(title=EXERCISE_TITLE)
    # The shipped exercise trains 800 patients for 12 epochs (minutes); the tests train a
    # tiny one (the educator may change both in the admin, as here).
    exercise.lesion_patients, exercise.epochs = 20, 2
    exercise.save()
    return lesson, exercise


def _train(client, lesson, exercise, split: str) -> TrainingRun:
    response = client.post(
        reverse("model_builder:exercise_run_create", args=[exercise.pk]),
        {"lesson_id": lesson.pk, "split": split},
    )
    assert response.status_code == 302, response.content[:500]
    run = TrainingRun.objects.filter(exercise=exercise, config__split=split).latest("pk")
    assert response["Location"] == reverse("model_builder:run_detail", args=[run.pk])
    done = services.training_run_execute(run_pk=run.pk)
    assert done.status == TrainingRunStatus.SUCCEEDED, done.error_message
    return done


def _cohort_lab_done(resident, lesson):
    """The lesson's other lab (the blur sweep) is finished: its run row, as the worker
    leaves it (scoring 100 cases is the cohort tests' business, not this one's), with its
    questions answered beside the result."""
    from evaluation.models import CohortExercise
    from tests.factories import cohort_run_finished, lab_answers_for

    sweep = CohortExercise.objects.get(
        pk=next(b.value["exercise"].pk for b in lesson.body if b.block_type == "cohort_lab")
    )
    cohort_run_finished(
        exercise=sweep, user=resident, lesson=lesson, answers=lab_answers_for(sweep)
    )


def test_the_course_embeds_the_exercise_and_the_lesson_offers_both_splits(
    client, people, leakage_lesson
):
    lesson, exercise = leakage_lesson
    assert [b.block_type for b in lesson.body].count("model_builder") == 1
    assert exercise.question_prompts and exercise.is_published
    client.force_login(people["resident"])
    page = lesson_page_read(client, lesson.url).content.decode()
    assert f'id="builder-exercise-{exercise.pk}"' in page
    assert page.count('name="split"') == 2
    assert 'value="patient"' in page and 'value="image"' in page
    assert "not trained yet" in page


def test_a_training_starts_only_for_an_exercise_the_lesson_embeds(client, people, leakage_lesson):
    lesson, exercise = leakage_lesson
    other = BuilderExercise.objects.create(title="Not in any lesson")
    client.force_login(people["resident"])
    url = reverse("model_builder:exercise_run_create", args=[other.pk])
    assert client.post(url, {"lesson_id": lesson.pk, "split": "patient"}).status_code == 403
    url = reverse("model_builder:exercise_run_create", args=[exercise.pk])
    assert client.post(url, {"lesson_id": lesson.pk, "split": "sideways"}).status_code == 302
    assert not TrainingRun.objects.exists()
    client.force_login(people["outsider"])  # not enrolled: may not read the lesson
    assert client.post(url, {"lesson_id": lesson.pk, "split": "patient"}).status_code == 403


def test_both_splits_trained_and_answered_complete_the_lesson(client, people, leakage_lesson):
    lesson, exercise = leakage_lesson
    resident = people["resident"]
    _cohort_lab_done(resident, lesson)
    client.force_login(resident)
    by_patient = _train(client, lesson, exercise, "patient")
    # The exercise fixes everything but the split: same cohort size, epochs and seed.
    assert by_patient.config["lesion_patients"] == 20 and by_patient.config["epochs"] == 2
    assert by_patient.lesson_id == lesson.pk
    assert by_patient.metrics["split"]["patients_on_both_sides"] == 0
    # Questions compare the two trainings: not answerable with one of them.
    answers_url = reverse("model_builder:run_answers", args=[by_patient.pk])
    assert client.post(answers_url, {}).status_code == 404
    page = client.get(reverse("model_builder:run_detail", args=[by_patient.pk])).content.decode()
    assert "once both trainings" in page
    assert not lesson_is_completed(user=resident, lesson=lesson)

    by_image = _train(client, lesson, exercise, "image")
    assert by_image.config["seed"] == by_patient.config["seed"]
    # The leak, measured on the held-out set: image-level test patients were also trained on.
    split = by_image.metrics["split"]
    assert 0 < split["patients_on_both_sides"] <= split["test_patients"]
    assert "auc" in by_image.metrics["test"] and "auc" in by_image.metrics["new_patients"]
    assert not lesson_is_completed(user=resident, lesson=lesson)  # questions not answered

    page = client.get(reverse("model_builder:run_detail", args=[by_image.pk])).content.decode()
    assert 'id="leakage-table"' in page and "not trained yet" not in page
    prompts = exercise.question_prompts
    posted = {f"answer-{qid}": f"<b>answer {n}</b>" for n, (qid, _p) in enumerate(prompts)}
    answers_url = reverse("model_builder:run_answers", args=[by_image.pk])
    client.post(answers_url, {**posted, f"answer-{prompts[-1][0]}": " "})
    assert not lesson_is_completed(user=resident, lesson=lesson)  # one left blank
    assert client.post(answers_url, posted).status_code == 302
    by_image.refresh_from_db()
    assert by_image.answered_at is not None
    assert lesson_is_completed(user=resident, lesson=lesson)
    # An educator reads the answers, escaped; another resident may not see the run.
    client.force_login(people["educator"])
    page = client.get(reverse("model_builder:run_detail", args=[by_image.pk])).content.decode()
    assert "&lt;b&gt;answer 0&lt;/b&gt;" in page and "<b>answer 0</b>" not in page
    assert 'action="' + answers_url not in page  # only the resident answers
    client.force_login(people["outsider"])
    response = client.get(reverse("model_builder:run_detail", args=[by_image.pk]))
    assert response.status_code == 404
