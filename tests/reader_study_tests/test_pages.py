"""The reader study as its people meet it: the resident's own pages, nobody else's, and an
educator's aggregate that stays hidden until five residents have taken part."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role
from accounts.services import enrolment_create
from curriculum.selectors import lesson_exercises, lesson_is_completed
from labs.models import LabRun, LabRunStatus
from reader_study.models import ReaderRating, ReaderSession
from tests.factories import UserFactory, lab_answers_for
from tests.lesson_pages import lesson_page_read
from tests.reader_study_tests.matrix_support import exercise_embed, session_finish


@pytest.fixture
def study(demo_lesson):
    return exercise_embed(demo_lesson)


def start(client, lesson, exercise):
    return client.post(
        reverse("reader_study:session_start", args=[exercise.pk]), {"lesson_id": lesson.pk}
    )


def test_the_resident_rates_in_order_and_sees_only_their_own_results(
    client, demo_lesson, people, study
):
    client.force_login(people["resident"])
    page = lesson_page_read(client, demo_lesson.url)
    assert b"2 of the 6 AI suggestions are deliberately wrong" in page.content
    response = start(client, demo_lesson, study)
    session = ReaderSession.objects.get(user=people["resident"])
    assert response["Location"] == reverse("reader_study:case", args=[session.pk, 0])
    first = client.get(response["Location"])
    assert b"Part 1: without AI" in first.content
    assert b'data-testid="ai-suggestion"' not in first.content
    # Nothing ahead of the case due: neither the page nor the picture of case 7 (aided).
    assert client.get(reverse("reader_study:case", args=[session.pk, 6]))["Location"] == (
        reverse("reader_study:case", args=[session.pk, 0])
    )
    assert client.get(reverse("reader_study:case_image", args=[session.pk, 6])).status_code == 404
    picture = client.get(reverse("reader_study:case_image", args=[session.pk, 0]))
    assert picture["Content-Type"] == "image/png" and picture.content[:4] == b"\x89PNG"
    for position in range(6):
        client.post(reverse("reader_study:case", args=[session.pk, position]), {"rating": "2"})
    aided = client.get(reverse("reader_study:case", args=[session.pk, 6]))
    assert b"Part 2: with the AI" in aided.content and b"ai-suggestion" in aided.content
    # A rating already given is final: posting it again changes nothing.
    client.post(reverse("reader_study:case", args=[session.pk, 0]), {"rating": "5"})
    assert ReaderRating.objects.get(session=session, position=0).rating == 2
    assert not lesson_is_completed(user=people["resident"], lesson=demo_lesson)
    for position in range(6, 12):
        response = client.post(
            reverse("reader_study:case", args=[session.pk, position]), {"rating": "4"}
        )
    assert response["Location"] == reverse("reader_study:session_result", args=[session.pk])
    result = client.get(response["Location"])
    assert result.status_code == 200
    assert b"not graded" in result.content and b"Dratsch" in result.content
    # With the lesson's lab done too, taking part completes the lesson, whatever the ratings.
    for block_type, exercise in lesson_exercises(demo_lesson):
        if block_type == "lab":
            LabRun.objects.create(
                exercise=exercise,
                user=people["resident"],
                lesson=demo_lesson,
                status=LabRunStatus.SUCCEEDED,
                answers=lab_answers_for(exercise),
            )
    assert lesson_is_completed(user=people["resident"], lesson=demo_lesson)

    for who in ("outsider", "educator", "examiner", "admin"):
        client.force_login(people[who])
        for name, args in [
            ("session_result", [session.pk]),
            ("case", [session.pk, 0]),
            ("case_image", [session.pk, 0]),
        ]:
            assert client.get(reverse(f"reader_study:{name}", args=args)).status_code == 404, who


def test_an_outsider_cannot_start_a_study_in_a_course_they_are_not_in(
    client, demo_lesson, people, study
):
    client.force_login(people["outsider"])
    assert start(client, demo_lesson, study).status_code == 403
    assert not ReaderSession.objects.exists()


def residents_finish(numbers: range, *, lesson, exercise):
    """Residents `numbers` finish the study; even numbers always follow the AI."""
    course = lesson.get_parent().get_parent()
    for number in numbers:
        resident = UserFactory(username=f"reader{number}", role=Role.RESIDENT)
        enrolment_create(user=resident, course=course)
        session_finish(user=resident, exercise=exercise, lesson=lesson, follows_ai=number % 2 == 0)


def test_the_aggregate_is_withheld_below_five_residents_and_shown_at_five(
    client, demo_lesson, people, study
):
    url = reverse("reader_study:cohort_summary", args=[study.pk])
    client.force_login(people["resident"])
    assert client.get(url).status_code == 403
    client.force_login(people["educator"])
    # Staff who try the study are not residents and never count.
    session_finish(user=people["educator"], exercise=study, lesson=demo_lesson, follows_ai=True)
    residents_finish(range(4), lesson=demo_lesson, exercise=study)
    withheld = client.get(url)
    assert b"4 residents have finished the study" in withheld.content
    assert b"aggregate-table" not in withheld.content
    residents_finish(range(4, 5), lesson=demo_lesson, exercise=study)
    shown = client.get(url)
    assert b"aggregate-table" in shown.content
    summary = shown.context["summary"]
    assert summary.readers == 5
    # 3 followers (each followed 2 of 2 wrong marks) and 2 independent readers (0 of 2).
    assert summary.measures["followed_wrong"] == {"count": 6, "total": 10, "value": 0.6}
    assert summary.measures["auc_unaided"]["value"] == 1.0
    assert summary.measures["auc_aided"]["value"] < 1.0
