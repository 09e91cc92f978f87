"""Authoring: the bank refuses unusable question data with a message; the demo content is
complete (image questions on the library chest CT) and a resident can sit it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from assessments import services
from assessments.demo import assessments_demo_ensure
from assessments.models import Assessment, Question, QuestionKind
from assessments.tasks import attempts_overdue_submit_task
from tests.assessments_tests.builders import choice_question, course_of, exam

pytestmark = pytest.mark.django_db


def test_unusable_question_data_is_refused_with_the_reason():
    question = Question(
        title="Broken", kind=QuestionKind.NUMERIC, prompt="<p>?</p>", data={"unit": "mm"}
    )
    with pytest.raises(ValidationError) as error:
        question.full_clean()
    assert "Give 'answer' as a number." in str(error.value.message_dict["data"])


def test_educators_find_the_bank_in_the_cms(client, people):
    choice_question("In the bank")
    client.force_login(people["educator"])
    listing = client.get(reverse("wagtailsnippets_assessments_question:list"))
    assert listing.status_code == 200 and b"In the bank" in listing.content
    assert client.get(reverse("wagtailsnippets_assessments_question:add")).status_code == 200
    assert client.get(reverse("wagtailsnippets_assessments_assessment:add")).status_code == 200


def test_the_sweeper_task_closes_overdue_attempts(people, eager_tasks):
    import datetime as dt

    from django.utils import timezone

    from assessments.models import Attempt, AttemptStatus

    assessment = exam([choice_question()], time_limit_minutes=1)
    attempt = services.attempt_start(
        assessment=assessment, user=people["resident"], now=timezone.now() - dt.timedelta(hours=1)
    )
    attempts_overdue_submit_task.delay()
    assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.TIMED_OUT


def test_demo_content_is_complete_idempotent_and_takeable(chest_ct, demo_lesson, people):
    course = course_of(demo_lesson)
    first = assessments_demo_ensure(course=course, module=demo_lesson.get_parent().specific)
    counts = (Question.objects.count(), Assessment.objects.count())
    again = assessments_demo_ensure(course=course, module=demo_lesson.get_parent().specific)
    assert (Question.objects.count(), Assessment.objects.count()) == counts
    assert (first.quiz.pk, first.exam.pk) == (again.quiz.pk, again.exam.pk)
    assert not first.notes
    kinds = {q.kind for q in first.questions}
    assert {"image_point", "image_box", "image_slice", "case_rating", "essay"} <= kinds
    study = chest_ct[0]
    assert study.courses.filter(pk=course.pk).exists()  # residents may load its images
    attempt = services.attempt_start(assessment=first.exam, user=people["resident"])
    titles = list(attempt.responses.values_list("question__title", flat=True))
    assert "Demo: click the inferior vena cava" in titles and len(titles) == 5  # 4 + 1 drawn
    assert attempt.deadline_at is not None
    # The exam is scored against its own key series, never the teaching segmentation that
    # lessons overlay and the practice quiz uses (issue 13): hiding it empties no lesson.
    _study, _ct, teaching = chest_ct
    exam_keys = {
        r.question.data["seg_series_uid"]
        for r in attempt.responses.select_related("question")
        if r.question.is_image_question
    }
    assert exam_keys and teaching.series_instance_uid not in exam_keys
    quiz_keys = {
        q.data["seg_series_uid"]
        for q in Question.objects.filter(kind__in=["image_box", "image_point", "image_slice"])
        if q.title == "Demo: box the liver"
    }
    assert quiz_keys == {teaching.series_instance_uid}
