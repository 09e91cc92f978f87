"""Written answers for the de-identification, reading-room and reader-study exercises
(issue 15): the resident explains what they saw beside their result, the answers are kept on
the run (runs.answers), educators read them escaped, and a lesson embedding such an exercise
completes only once its questions are answered."""

from __future__ import annotations

import pytest
from django.urls import reverse

from curriculum.models import LessonPage
from curriculum.selectors import lesson_is_completed
from runs.answers import line_question_prompts

pytestmark = pytest.mark.django_db

QUESTIONS = "What did you see first?\nWhat would you change next time?"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _lesson_with(module, block_type: str, exercise, slug: str) -> LessonPage:
    lesson = LessonPage(
        slug=slug,
        title=f"Lesson {slug}",
        body=[{"type": block_type, "value": {"exercise": exercise.pk, "introduction": ""}}],
    )
    module.add_child(instance=lesson)
    lesson.save_revision().publish()
    return LessonPage.objects.get(pk=lesson.pk)


def _answers(text: str) -> dict:
    return {
        f"answer-{qid}": f"{text} {n}"
        for n, (qid, _p) in enumerate(line_question_prompts(QUESTIONS))
    }


def test_deid_answers_complete_the_lesson_and_educators_read_them_escaped(
    client, people, demo_lesson
):
    from deid_lab import services
    from deid_lab.models import DeidExercise

    exercise = DeidExercise.objects.create(title="Leaks", variant="declared", questions=QUESTIONS)
    lesson = _lesson_with(demo_lesson.get_parent(), "deid", exercise, "deid-answers")
    resident = people["resident"]
    attempt = services.deid_attempt_create(user=resident, exercise=exercise, lesson=lesson)
    client.force_login(resident)
    url = reverse("deid_lab:attempt_answers", args=[attempt.pk])
    assert client.post(url, _answers("early")).status_code == 404  # no result yet
    services.deid_findings_submit(attempt=attempt, paths=[])
    services.deid_run_request(attempt=attempt, option_keys=[])
    attempt = services.deid_run_execute(attempt_pk=attempt.pk)
    assert attempt.status == "succeeded", attempt.error_message
    assert not lesson_is_completed(user=resident, lesson=lesson)
    detail = client.get(reverse("deid_lab:attempt_detail", args=[attempt.pk])).content.decode()
    assert f'action="{url}"' in detail and "What did you see first?" in detail
    assert client.post(url, _answers(SCRIPT)).status_code == 302
    attempt.refresh_from_db()
    assert attempt.answered_at is not None
    assert attempt.answers[line_question_prompts(QUESTIONS)[0][0]]["answer"] == f"{SCRIPT} 0"
    assert lesson_is_completed(user=resident, lesson=lesson)
    client.force_login(people["educator"])
    detail = client.get(reverse("deid_lab:attempt_detail", args=[attempt.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 0" in detail and SCRIPT not in detail
    assert f'action="{url}"' not in detail
    assert client.post(url, _answers("not mine")).status_code == 404


def test_reading_room_answers_are_kept_on_the_run(client, people, demo_lesson):
    from tests.reading_room_tests.matrix_support import reading_room_context

    objects = reading_room_context({"lesson": demo_lesson, "people": people})
    run = objects["run"]
    run.exercise.questions = QUESTIONS
    run.exercise.save()
    client.force_login(people["resident"])
    url = reverse("reading_room:run_answers", args=[run.pk])
    assert client.post(url, _answers(SCRIPT)).status_code == 302
    run.refresh_from_db()
    assert len(run.answers) == 2 and run.answered_at is not None
    client.force_login(people["educator"])
    page = client.get(reverse("reading_room:run_detail", args=[run.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 1" in page and SCRIPT not in page
    client.force_login(people["outsider"])
    assert client.post(url, _answers("not mine")).status_code == 404


def test_reading_room_answers_complete_the_lesson(client, people, demo_lesson):
    """A reading-room run counts for its lesson once its questions are answered (issue 15);
    read with the other families in the one progress query (issue 18)."""
    from tests.reading_room_tests.matrix_support import reading_room_context

    run = reading_room_context({"lesson": demo_lesson, "people": people})["run"]
    run.exercise.questions = QUESTIONS
    run.exercise.save()
    lesson = _lesson_with(demo_lesson.get_parent(), "reading_room", run.exercise, "room-answers")
    run.lesson = lesson
    run.save(update_fields=["lesson"])
    resident = people["resident"]
    assert not lesson_is_completed(user=resident, lesson=lesson)  # questions unanswered
    client.force_login(resident)
    url = reverse("reading_room:run_answers", args=[run.pk])
    assert client.post(url, {**_answers("seen"), next(iter(_answers(""))): " "}).status_code
    assert not lesson_is_completed(user=resident, lesson=lesson)  # one left blank
    assert client.post(url, _answers("seen")).status_code == 302
    assert lesson_is_completed(user=resident, lesson=lesson)


def test_reader_study_answers_count_and_educators_read_them_not_the_ratings(
    client, people, demo_lesson
):
    from reader_study.models import ReaderStudyExercise
    from tests.reader_study_tests.matrix_support import SHORT, session_finish

    exercise = ReaderStudyExercise.objects.create(title="Bias", questions=QUESTIONS, **SHORT)
    lesson = _lesson_with(demo_lesson.get_parent(), "reader_study", exercise, "reader-answers")
    resident = people["resident"]
    session = session_finish(user=resident, exercise=exercise, lesson=lesson, follows_ai=True)
    assert session.is_finished
    assert not lesson_is_completed(user=resident, lesson=lesson)  # questions unanswered
    client.force_login(resident)
    result = client.get(reverse("reader_study:session_result", args=[session.pk])).content
    assert b"read by your educators" in result
    url = reverse("reader_study:session_answers", args=[session.pk])
    assert client.post(url, _answers(SCRIPT)).status_code == 302
    assert lesson_is_completed(user=resident, lesson=lesson)
    client.force_login(people["educator"])
    cohort = client.get(reverse("reader_study:cohort_summary", args=[exercise.pk])).content
    assert url.encode() in cohort
    page = client.get(url).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 0" in page and SCRIPT not in page
    # The ratings stay the resident's own.
    result_url = reverse("reader_study:session_result", args=[session.pk])
    assert client.get(result_url).status_code == 404
    client.force_login(people["outsider"])
    assert client.get(url).status_code == 404


def test_the_shipped_exercises_load_with_their_questions(people):
    from curriculum.services import curriculum_content_load
    from deid_lab.models import DeidExercise
    from labs.models import LabExercise
    from reader_study.models import ReaderStudyExercise
    from reading_room.models import ReadingRoomExercise

    curriculum_content_load(
        only_lessons={
            "data-protection-gdpr-deidentification/deidentification-ps315",
            "ai-in-the-workflow-regulation-ethics/triage-and-screening",
        }
    )
    for model in (DeidExercise, ReadingRoomExercise, ReaderStudyExercise):
        exercises = list(model.objects.all())
        assert exercises and all(len(e.question_prompts) == 3 for e in exercises), model
    # Module 3's brain lab offers defacing beside the noise.
    lab = LabExercise.objects.get(model_key="mr-brain-deepbet", study_key="brain-t1-colin27")
    assert [offer.key for offer in lab.offers] == ["mr-rician-noise", "mr-defacing"]
