"""A quiz inside a lesson (block, automatic completion) and the educators' item statistics."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import reverse

from assessments import selectors, services
from assessments.models import Attempt
from curriculum.selectors import lesson_is_completed
from curriculum.services import lesson_completion_record_from_lab_run
from tests.assessments_tests.builders import choice_question, course_of, exam, quiz
from tests.factories import lab_run_answered
from tests.lesson_pages import lesson_page_read

pytestmark = pytest.mark.django_db


@pytest.fixture
def lesson_with_quiz(demo_lesson):
    """The demo lesson (it embeds a lab) with a two-question quiz appended, pass mark 50%."""
    assessment = quiz(
        [choice_question("Lesson Q1"), choice_question("Lesson Q2")],
        course=course_of(demo_lesson),
        max_attempts=None,
        pass_percent=50,
    )
    demo_lesson.body.append(("quiz", {"assessment": assessment, "introduction": "Check it."}))
    demo_lesson.save()
    return demo_lesson, assessment


def _lab_succeeded(lesson, user):
    exercise = next(b.value["exercise"] for b in lesson.body if b.block_type == "lab")
    return lab_run_answered(exercise=exercise, user=user, lesson=lesson)


def _take(assessment, user, lesson, answers):
    attempt = services.attempt_start(assessment=assessment, user=user, lesson=lesson)
    for position, choice in enumerate(answers):
        services.response_save(attempt=attempt, position=position, form={"choice": [choice]})
    return services.attempt_submit(attempt=attempt)


def test_the_lesson_completes_when_the_lab_succeeded_and_the_quiz_is_passed(
    lesson_with_quiz, people
):
    lesson, assessment = lesson_with_quiz
    resident = people["resident"]
    run = _lab_succeeded(lesson, resident)
    assert lesson_completion_record_from_lab_run(run=run) is None  # the quiz is still due
    assert not lesson_is_completed(user=resident, lesson=lesson)
    _take(assessment, resident, lesson, ["0", "0"])  # both wrong: 0%
    assert not lesson_is_completed(user=resident, lesson=lesson)
    _take(assessment, resident, lesson, ["1", "0"])  # 50%: passed
    assert lesson_is_completed(user=resident, lesson=lesson)


def test_a_passed_quiz_without_the_lab_does_not_complete_the_lesson(lesson_with_quiz, people):
    lesson, assessment = lesson_with_quiz
    _take(assessment, people["resident"], lesson, ["1", "1"])
    assert not lesson_is_completed(user=people["resident"], lesson=lesson)


def test_the_quiz_is_answered_inline_in_the_lesson(client, lesson_with_quiz, people):
    lesson, assessment = lesson_with_quiz
    client.force_login(people["resident"])
    page = lesson_page_read(client, lesson.url).content.decode()
    assert "Quiz: A quiz" in page and "Start the quiz" in page
    response = client.post(
        reverse("assessments:start", args=[assessment.pk]), {"lesson_id": lesson.pk}
    )
    attempt = Attempt.objects.get(user=people["resident"])
    assert attempt.lesson_id == lesson.pk
    assert response.status_code == 302
    page = lesson_page_read(client, lesson.url).content.decode()
    assert "Lesson Q1 option 0" in page and "Review and finish the quiz" in page
    # The quiz arrived with the lesson's reader parts; it still leads back to the lesson.
    back = quote(lesson.url)
    assert f"?next={back}%23quiz-{assessment.pk}" in page and "reader-parts" not in back
    assert "?next=" + quote(lesson.url + "reader-parts/") not in page
    review = client.get(
        reverse("assessments:review", args=[attempt.pk]), {"next": lesson.url + "#quiz"}
    ).content.decode()
    # Nothing saved yet: the review says so and the submit form returns to the lesson.
    assert 'data-unanswered="2"' in review and "Not answered" in review
    assert f'name="next" value="{lesson.url}#quiz"' in review
    finished = client.post(
        reverse("assessments:submit", args=[attempt.pk]), {"next": lesson.url + "#quiz"}
    )
    assert finished["Location"] == lesson.url + "#quiz"
    page = lesson_page_read(client, lesson.url).content.decode()
    assert "Your last attempt: 0%" in page and "Try the quiz again" in page


def test_item_statistics_difficulty_and_discrimination(people, django_user_model):
    easy, hard, mixed = (choice_question(t) for t in ("Easy", "Hard", "Mixed"))
    assessment = exam([easy, hard, mixed], max_attempts=None)
    # Four candidates; 1 = correct. Columns: easy, hard, mixed.
    papers = [(1, 1, 1), (1, 0, 1), (1, 0, 0), (0, 0, 0)]
    for number, paper in enumerate(papers):
        user = django_user_model.objects.create(username=f"candidate{number}", role="resident")
        attempt = services.attempt_start(assessment=assessment, user=user)
        by_question = {r.question_id: r.position for r in attempt.responses.all()}
        for question, correct in zip((easy, hard, mixed), paper, strict=True):
            services.response_save(
                attempt=attempt,
                position=by_question[question.pk],
                form={"choice": ["1" if correct else "0"]},
            )
        services.attempt_submit(attempt=attempt)
    statistics = selectors.assessment_statistics(assessment=assessment)
    rows = {row.question.title: row for row in statistics.questions}
    assert statistics.attempts == 4
    assert sorted(statistics.percents) == pytest.approx([0, 100 / 3, 200 / 3, 100])
    assert rows["Easy"].mean_fraction == 0.75 and rows["Easy"].proportion_correct == 0.75
    assert rows["Hard"].mean_fraction == 0.25
    # Easy vs the rest (hard + mixed, as a fraction of 2): x = 1,1,1,0; y = 1, .5, 0, 0.
    # mean x .75, mean y .375; sxy = .25*.625 + .25*.125 + .25*(-.375) + (-.75)*(-.375) = .375
    # sxx = 3*.0625 + .5625 = .75; syy = .390625 + .015625 + .140625*2 = .6875
    # r = .375 / sqrt(.75 * .6875) = 0.522
    assert rows["Easy"].discrimination == pytest.approx(0.375 / (0.75 * 0.6875) ** 0.5)
    # Hard vs the rest (easy + mixed): x = 1,0,0,0; y = 1, 1, .5, 0 -> r = 0.522 as well.
    assert rows["Hard"].discrimination == pytest.approx(0.5222, abs=1e-3)


def test_statistics_page_and_its_plot_are_for_educators(client, people):
    assessment = exam([choice_question()], max_attempts=None)
    attempt = services.attempt_start(assessment=assessment, user=people["resident"])
    services.attempt_submit(attempt=attempt)
    client.force_login(people["educator"])
    page = client.get(reverse("assessments:statistics", args=[assessment.pk]))
    assert b"corrected point-biserial" in page.content
    svg = client.get(reverse("assessments:distribution", args=[assessment.pk]))
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    client.force_login(people["resident"])
    assert client.get(reverse("assessments:statistics", args=[assessment.pk])).status_code == 403


def test_the_quiz_block_refuses_an_exam():
    from wagtail.blocks.struct_block import StructBlockValidationError

    from assessments.blocks import QuizBlock

    block = QuizBlock()
    summative = exam([choice_question("Exam only")], title="Not for lessons")
    with pytest.raises(StructBlockValidationError):
        block.clean(block.to_python({"assessment": summative.pk, "introduction": ""}))
    formative = quiz([choice_question("Fine")], title="For lessons")
    assert block.clean(block.to_python({"assessment": formative.pk, "introduction": ""}))
