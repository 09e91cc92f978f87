"""The examiner's and the resident's pages: blind marking, independence of the second mark,
escaping, and who may see what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role
from grading import services
from grading.models import MarkingState, ResponseMarking
from tests.factories import UserFactory
from tests.grading_tests.builders import essay_exam, finished_attempt, levels

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def exam(people):
    exam = essay_exam()
    attempt, essay = finished_attempt(
        exam, people["resident"], text=f"Noise moved the logits. {SCRIPT}", auto_score=3.0
    )
    return {**exam, "attempt": attempt, "essay_response": essay}


def _identity(user) -> list[str]:
    return [user.username, user.email, user.get_full_name()]


def test_blind_queue_and_marking_page_never_show_who_wrote_it(client, exam, people):
    resident = people["resident"]
    client.force_login(people["examiner"])
    queue = client.get(reverse("grading:queue"))
    page = client.get(reverse("grading:response_mark", args=[exam["essay_response"].pk]))
    for response in (queue, page):
        html = response.content.decode()
        assert response.status_code == 200
        assert exam["attempt"].candidate_code in html
        for secret in _identity(resident):
            assert secret not in html, secret
    # The URL names the answer only.
    assert resident.username not in reverse(
        "grading:response_mark", args=[exam["essay_response"].pk]
    )


def test_without_blind_marking_the_name_is_shown(client, people):
    exam = essay_exam(title="Open exam", blind=False)
    finished_attempt(exam, people["resident"], text="Text", auto_score=1.0)
    client.force_login(people["examiner"])
    html = client.get(reverse("grading:queue")).content.decode()
    assert people["resident"].get_full_name() in html


def test_queue_filters_by_state_and_assessment(client, exam, people):
    other = essay_exam(title="Other exam")
    finished_attempt(other, people["outsider"], text="Other", auto_score=0.0)
    services.mark_submit(
        response=exam["essay_response"], examiner=people["examiner"], levels=levels(3, 4)
    )
    client.force_login(people["examiner"])
    rows = client.get(reverse("grading:queue")).context["rows"]
    # The automatically marked answers are in the queue too, for review.
    assert {row.state for row in rows} == {
        MarkingState.AWAITING_SECOND,
        MarkingState.UNMARKED,
        "auto",
    }
    rows = client.get(reverse("grading:queue"), {"state": "unmarked"}).context["rows"]
    assert [row.response.attempt.assessment.title for row in rows] == ["Other exam"]
    rows = client.get(
        reverse("grading:queue"), {"assessment": exam["assessment"].pk, "state": "awaiting_second"}
    ).context["rows"]
    assert [row.response.pk for row in rows] == [exam["essay_response"].pk]
    assert rows[0].marked_by_me


def test_the_second_examiner_cannot_see_the_first_mark_before_giving_theirs(client, exam, people):
    response = exam["essay_response"]
    first_feedback = "First marker thinks the argument is thin"
    services.mark_submit(
        response=response,
        examiner=people["examiner"],
        levels=levels(1, 3),
        feedback=first_feedback,
    )
    second = UserFactory(username="erin", role=Role.EXAMINER)
    client.force_login(second)
    url = reverse("grading:response_mark", args=[response.pk])
    html = client.get(url).content.decode()
    assert first_feedback not in html
    assert 'data-mark-points="8.0"' not in html
    assert "stays hidden until you give yours" in html

    # The second mark through the form: rubric levels and per-criterion feedback.
    posted = client.post(
        url,
        {
            "level-accuracy": "3",  # 4 points
            "level-reasoning": "3",  # 5 points -> 9 rubric points -> 18
            "feedback-accuracy": f"Exact. {SCRIPT}",
            "feedback-reasoning": "",
            "feedback": "Well argued.",
        },
    )
    assert posted.status_code == 302
    marking = ResponseMarking.objects.get(response=response)
    assert marking.state == MarkingState.MODERATION  # 8 vs 18
    html = client.get(url).content.decode()
    assert first_feedback in html
    assert 'data-mark-points="8.0"' in html and 'data-mark-points="18.0"' in html
    # Feedback and answer text are escaped everywhere they are shown.
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html


def test_a_form_without_every_level_is_refused_with_a_message(client, exam, people):
    client.force_login(people["examiner"])
    url = reverse("grading:response_mark", args=[exam["essay_response"].pk])
    response = client.post(url, {"level-accuracy": "2", "feedback": "kept"})
    assert response.status_code == 200
    assert "Choose a level for this criterion." in response.content.decode()
    # What was typed is kept on the page.
    assert "kept" in response.content.decode()
    assert not ResponseMarking.objects.filter(response=exam["essay_response"]).exists()


def test_moderation_release_and_regrade_through_the_pages(client, exam, people):
    response = exam["essay_response"]
    second = UserFactory(username="erin", role=Role.EXAMINER)
    services.mark_submit(response=response, examiner=people["examiner"], levels=levels(1, 3))
    services.mark_submit(response=response, examiner=second, levels=levels(4, 5))
    client.force_login(people["examiner"])
    # A marker sees no moderation form; posting anyway is refused with a message.
    page = client.get(reverse("grading:response_mark", args=[response.pk]))
    assert not page.context["may_moderate"]
    client.post(
        reverse("grading:response_moderate", args=[response.pk]), {"points": "12", "reason": "x"}
    )
    assert ResponseMarking.objects.get(response=response).state == MarkingState.MODERATION

    client.force_login(people["admin"])
    # The moderator tells the two marks apart by marker code, never by name.
    html = client.get(reverse("grading:response_mark", args=[response.pk])).content.decode()
    assert "Marker A" in html and "Marker B" in html
    assert "erin" not in html and people["examiner"].username not in html
    missing_reason = client.post(
        reverse("grading:response_moderate", args=[response.pk]), {"points": "12"}
    )
    assert missing_reason.status_code == 200
    assert "This field is required." in missing_reason.content.decode()
    client.post(
        reverse("grading:response_moderate", args=[response.pk]),
        {"points": "12.5", "reason": "Between the two: mechanism right, dose missing."},
    )
    # Releasing the exam's marks releases the agreed mark with them.
    client.post(reverse("grading:assessment_release", args=[exam["assessment"].pk]))
    assert ResponseMarking.objects.get(response=response).released_points == 12.5

    # The resident sees the released mark and both examiners' feedback, and asks for a regrade.
    client.force_login(people["resident"])
    feedback_url = reverse("grading:attempt_feedback", args=[exam["attempt"].pk])
    html = client.get(feedback_url).content.decode()
    assert "12.5 / 20" in html
    assert "Between the two" in html
    # 3 auto + 12.5 = 15.5 of 25 = 62 %
    assert "15.5 of 25 points (62 %)" in html
    client.post(
        reverse("grading:regrade_request", args=[response.pk]),
        {"reason": f"Please look at paragraph 2. {SCRIPT}"},
    )
    assert ResponseMarking.objects.get(response=response).state == MarkingState.REGRADE_REQUESTED

    client.force_login(people["examiner"])
    html = client.get(reverse("grading:response_mark", args=[response.pk])).content.decode()
    assert "Please look at paragraph 2." in html and SCRIPT not in html
    client.post(
        reverse("grading:response_regrade", args=[response.pk]),
        {"points": "14", "reason": "Paragraph 2 covers dose."},
    )
    marking = ResponseMarking.objects.get(response=response)
    assert (marking.state, marking.released_points) == (MarkingState.RELEASED, 14.0)


def test_unreleased_feedback_stays_hidden_and_others_get_404(client, exam, people):
    response = exam["essay_response"]
    services.mark_submit(
        response=response,
        examiner=people["examiner"],
        levels=levels(3, 4),
        feedback="Secret until released",
    )
    feedback_url = reverse("grading:attempt_feedback", args=[exam["attempt"].pk])
    client.force_login(people["resident"])
    html = client.get(feedback_url).content.decode()
    assert "Secret until released" not in html
    assert "Not released yet." in html
    client.force_login(people["outsider"])
    assert client.get(feedback_url).status_code == 404
    assert (
        client.post(
            reverse("grading:regrade_request", args=[response.pk]), {"reason": "mine?"}
        ).status_code
        == 404
    )
    # An examiner reads answers through the blind marking pages, not the resident's page.
    client.force_login(people["examiner"])
    assert client.get(feedback_url).status_code == 404


def test_my_grades_lists_only_my_attempts(client, exam, people):
    finished_attempt(exam, people["outsider"], text="Otto's answer", auto_score=1.0)
    client.force_login(people["resident"])
    attempts = client.get(reverse("grading:my_grades")).context["attempts"]
    assert [attempt.user for attempt, _result in attempts] == [people["resident"]]


def test_attached_lab_runs_are_shown_without_their_run_number(
    client, exam, people, demo_lesson, settings, tmp_path
):
    from django.core.files.base import ContentFile

    from labs.models import LabRunStatus
    from labs.services import lab_run_create

    settings.MEDIA_ROOT = tmp_path
    run = lab_run_create(
        user=people["resident"], exercise=demo_lesson.body[1].value["exercise"], severity=10
    )
    run.original_image.save("original_image.png", ContentFile(b"\x89PNG picture"), save=False)
    run.status = LabRunStatus.SUCCEEDED
    run.save()
    response = exam["essay_response"]
    response.lab_runs.add(run)
    client.force_login(people["examiner"])
    html = client.get(reverse("grading:response_mark", args=[response.pk])).content.decode()
    picture = reverse("grading:response_lab_run_output", args=[response.pk, 1, "original_image"])
    assert picture in html
    # The run's own pages name its owner: the marking page must not lead there.
    assert f"/labs/runs/{run.pk}/" not in html
    served = client.get(picture)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == b"\x89PNG picture"
    missing = reverse("grading:response_lab_run_output", args=[response.pk, 2, "original_image"])
    assert client.get(missing).status_code == 404
    # Nor can the examiner reach the run another way: it is in no list they see and its own
    # pages answer 404, so the pictures cannot be matched to a name.
    assert not [who for who in _identity(people["resident"]) if who and who in html]
    assert list(client.get(reverse("labs:run_list")).context["runs"]) == []
    for name, args in [
        ("labs:run_detail", [run.pk]),
        ("labs:run_status", [run.pk]),
        ("labs:run_output", [run.pk, "original_image"]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 404
