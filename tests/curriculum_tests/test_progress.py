"""Completion, prerequisites, progress arithmetic, self-enrolment, navigation and search."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import permissions, roles
from accounts.services import cohort_ensure
from curriculum import selectors
from curriculum.models import CompletionSource, LessonCompletion
from curriculum.services import (
    demo_course_ensure,
    lesson_completion_record,
    lesson_completion_record_from_lab_run,
)
from labs.models import LabRun, LabRunStatus
from tests.factories import lab_answers_for

pytestmark = pytest.mark.django_db


def test_percent_rounds_down_so_that_100_means_done():
    assert selectors.percent_of(2, 3) == 66
    assert selectors.percent_of(3, 3) == 100
    assert selectors.percent_of(0, 0) == 0


def test_progress_per_module_and_outcome(small_course, people):
    resident = people["resident"]
    course = small_course["course"]
    progress = selectors.course_progress(user=resident, course=course)
    assert (progress.lessons_completed, progress.lessons_total, progress.percent) == (0, 3, 0)
    assert progress.next_lesson == small_course["lessons_a"][0]

    lesson_completion_record(user=resident, lesson=small_course["lessons_a"][0])
    progress = selectors.course_progress(user=resident, course=course)
    module_a, module_b = progress.modules
    assert (module_a.lessons_completed, module_a.lessons_total, module_a.percent) == (1, 2, 50)
    assert [o.is_met for o in module_a.outcomes] == [False, True, False]  # module, A1, A2
    assert progress.percent == 33
    assert progress.next_lesson == small_course["lessons_a"][1]
    assert module_b.unmet_prerequisites == [small_course["module_a"]]

    lesson_completion_record(user=resident, lesson=small_course["lessons_a"][1])
    progress = selectors.course_progress(user=resident, course=course)
    assert progress.modules[0].outcomes[0].is_met
    assert progress.modules[1].is_open
    assert progress.next_lesson == small_course["lesson_b"]
    assert progress.outcomes_by_domain() == [("Knowledge", 2, 2), ("Competences", 1, 1)]


def test_recording_completion_twice_keeps_one_row(small_course, people):
    lesson = small_course["lessons_a"][0]
    lesson_completion_record(user=people["resident"], lesson=lesson)
    lesson_completion_record(user=people["resident"], lesson=lesson)
    assert LessonCompletion.objects.filter(lesson=lesson).count() == 1


def test_prerequisites_are_enforced_with_an_explanation(client, small_course, people):
    resident = people["resident"]
    client.force_login(resident)
    lesson_b = small_course["lesson_b"]
    response = client.get(lesson_b.url)
    assert response.status_code == 403
    assert "Module A" in response.content.decode()
    assert not permissions.may(resident, "curriculum.mark_lesson_complete", lesson_b)
    assert client.post(reverse("curriculum:lesson_complete", args=[lesson_b.pk])).status_code == 403

    for lesson in small_course["lessons_a"]:
        response = client.post(reverse("curriculum:lesson_complete", args=[lesson.pk]))
        assert response.status_code == 302
    assert client.get(lesson_b.url).status_code == 200
    # Staff are never held back by prerequisites.
    client.force_login(people["educator"])
    assert client.get(lesson_b.url).status_code == 200


def test_mark_complete_moves_on_to_the_next_lesson(client, small_course, people):
    client.force_login(people["resident"])
    first, second = small_course["lessons_a"]
    response = client.post(reverse("curriculum:lesson_complete", args=[first.pk]))
    assert response["Location"] == second.url
    page = client.get(first.url).content.decode()
    assert "You have completed this lesson." in page
    assert f'rel="next" href="{second.url}"' in page


def test_neighbours_cross_module_boundaries(small_course):
    second = small_course["lessons_a"][1]
    previous, following = selectors.lesson_neighbours(lesson=second)
    assert previous == small_course["lessons_a"][0]
    assert following == small_course["lesson_b"]


def test_a_succeeded_lab_run_completes_its_lesson(people):
    lesson = demo_course_ensure()
    exercise = lesson.body[1].value["exercise"]
    resident = people["resident"]
    run = LabRun.objects.create(exercise=exercise, user=resident, lesson=lesson)
    assert not selectors.lesson_is_completed(user=resident, lesson=lesson)
    assert lesson_completion_record_from_lab_run(run=run) is None  # still queued
    run.status = LabRunStatus.SUCCEEDED
    run.save()
    assert not selectors.lesson_is_completed(user=resident, lesson=lesson)  # not answered yet
    run.answers = lab_answers_for(exercise)
    run.save()
    assert selectors.lesson_is_completed(user=resident, lesson=lesson)
    completion = lesson_completion_record_from_lab_run(run=run)
    assert completion.source == CompletionSource.LAB


def test_self_enrolment_only_where_allowed(client, small_course, people):
    course = small_course["course"]
    outsider = people["outsider"]
    client.force_login(outsider)
    assert client.get(small_course["lessons_a"][0].url).status_code == 403
    assert permissions.may(outsider, "curriculum.self_enrol", course)
    response = client.post(reverse("curriculum:course_enrol", args=[course.pk]))
    assert response.status_code == 302
    assert roles.is_enrolled(outsider, course)
    assert client.get(small_course["lessons_a"][0].url).status_code == 200

    course.self_enrolment_allowed = False
    course.save_revision().publish()
    client.force_login(people["admin"])
    assert client.post(reverse("curriculum:course_enrol", args=[course.pk])).status_code == 403
    other = people["resident"]
    other.enrolments.all().delete()
    assert not permissions.may(other, "curriculum.self_enrol", course)


def test_course_progress_for_educators_by_cohort(client, small_course, people):
    course = small_course["course"]
    cohort = cohort_ensure(name="Residents 2026", courses=[course], members=[people["outsider"]])
    lesson_completion_record(user=people["resident"], lesson=small_course["lessons_a"][0])
    rows = selectors.course_learners_progress(course=course)
    assert [(r.user.username, r.lessons_completed, r.percent) for r in rows] == [
        ("otto", 0, 0),
        ("rhea", 1, 33),
    ]
    client.force_login(people["educator"])
    url = reverse("curriculum:course_progress", args=[course.pk])
    response = client.get(url, {"cohort": cohort.pk})
    assert response.status_code == 200
    assert [r.user.username for r in response.context["rows"]] == ["otto"]
    client.force_login(people["examiner"])
    assert client.get(url).status_code == 403


def test_search_finds_only_lessons_the_user_may_open(client, small_course, people):
    client.force_login(people["resident"])
    response = client.get(reverse("curriculum:search"), {"q": "Lesson"})
    assert small_course["lessons_a"][0] in response.context["results"]
    client.force_login(people["outsider"])
    response = client.get(reverse("curriculum:search"), {"q": "Lesson"})
    assert response.context["results"] == []


def test_course_page_offers_to_continue(client, small_course, people):
    client.force_login(people["resident"])
    lesson_completion_record(user=people["resident"], lesson=small_course["lessons_a"][0])
    page = client.get(small_course["course"].url).content.decode()
    assert "Continue where you left off" in page
    assert small_course["lessons_a"][1].url in page
    assert client.get(reverse("curriculum:my_progress")).status_code == 200


def test_a_closed_module_page_explains_what_it_needs(client, small_course, people):
    client.force_login(people["resident"])
    response = client.get(small_course["module_b"].url)
    assert response.status_code == 200
    assert "open once you have completed" in response.content.decode()
