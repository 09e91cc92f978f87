"""Issue 17, item 2: an exam's marks are released once, and every page says the same thing.

Before the release no page shows a score, not even a provisional one; after it, none says the
marks are not released. Automatically marked answers reach the examiner, who may override a
mark with a reason (audited), and the override changes the total and the gradebook.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from grading import selectors, services
from grading.models import AuditAction, AuditEntry, AutoMarkOverride, GradebookCategory
from tests.grading_tests.builders import course_with_lessons, essay_exam, finished_attempt

pytestmark = pytest.mark.django_db

# The exam: a 5-point choice question (auto-marked 3 of 5 here) and a 20-point essay.
AUTO_SCORE = 3.0


@pytest.fixture
def exam(people):
    from accounts.services import enrolment_create

    course = course_with_lessons()["course"]
    enrolment_create(user=people["resident"], course=course)
    exam = essay_exam(course=course, title="Final exam", double=False, with_rubric=False)
    attempt, essay = finished_attempt(
        exam, people["resident"], text="My essay", auto_score=AUTO_SCORE
    )
    category = GradebookCategory.objects.create(course=course, name="Exams", weight=100)
    category.assessments.set([exam["assessment"]])
    auto = attempt.responses.get(position=0)
    auto.feedback = "Motion was not the artefact here: the streaks follow the noise pattern."
    auto.save(update_fields=["feedback"])
    return {**exam, "course": course, "attempt": attempt, "essay": essay, "auto": auto}


def _pages(client, exam) -> dict[str, str]:
    """What the resident reads about the attempt on each page that shows it."""
    attempt = exam["attempt"]
    urls = {
        "result": reverse("assessments:result", args=[attempt.pk]),
        "feedback": reverse("grading:attempt_feedback", args=[attempt.pk]),
        "my grades": reverse("grading:my_grades"),
    }
    pages = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    return pages


def test_before_release_no_page_shows_a_score_and_after_it_none_says_unreleased(
    client, exam, people
):
    resident = people["resident"]
    client.force_login(resident)
    for name, html in _pages(client, exam).items():
        assert "Marks not yet released" in html, name
        assert 'data-marks-status="unreleased"' in html, name
        # The provisional "3 of 25" the issue found on My grades is nowhere.
        assert "3 of 25" not in html and "12 %" not in html, name
    assert selectors.attempt_result(exam["attempt"])["score"] is None
    assert selectors.assessment_percent(user=resident, assessment=exam["assessment"]) is None

    # The essay is marked (agreed) but the exam is not released: still nothing shown.
    services.mark_submit(response=exam["essay"], examiner=people["examiner"], points=12)
    assert all("12 / 20" not in html for html in _pages(client, exam).values())

    released = services.assessment_release(assessment=exam["assessment"], by=people["educator"])
    assert released == 1  # the agreed essay mark goes out with the exam's marks
    for name, html in _pages(client, exam).items():
        assert "Marks not yet released" not in html, name
        assert "15 of 25 points (60 %)" in html, name
        assert 'data-marks-status="final"' in html, name
    feedback = _pages(client, exam)["feedback"]
    # The auto-marked answer is on the feedback page with its mark and the scorer's reason.
    assert "3 / 5" in feedback and "streaks follow the noise pattern" in feedback
    assert selectors.assessment_percent(user=resident, assessment=exam["assessment"]) == 60.0
    entry = AuditEntry.objects.get(action=AuditAction.MARKS_RELEASE)
    assert (entry.actor, entry.assessment) == (people["educator"], exam["assessment"])


def test_released_but_essay_still_being_marked_is_not_final_and_says_so(client, exam, people):
    services.assessment_release(assessment=exam["assessment"], by=people["examiner"])
    client.force_login(people["resident"])
    for name, html in _pages(client, exam).items():
        assert "Marks not yet released" not in html, name
        assert "3 of 25 points (12 %)" in html, name
        assert "not final: 1 answer is still with the examiners" in html, name
    assert (
        selectors.assessment_percent(user=people["resident"], assessment=exam["assessment"]) is None
    )


def test_an_examiner_overrides_an_automatic_mark_with_a_reason_audited(client, exam, people):
    auto, examiner = exam["auto"], people["examiner"]
    services.mark_submit(response=exam["essay"], examiner=examiner, points=12)
    services.assessment_release(assessment=exam["assessment"], by=examiner)
    resident = people["resident"]
    assert selectors.assessment_percent(user=resident, assessment=exam["assessment"]) == 60.0

    # The auto-marked answer reaches the examiner: in the queue, and from the essay's page.
    client.force_login(examiner)
    queue = client.get(reverse("grading:queue"), {"state": "auto"}).context["rows"]
    assert [row.response.pk for row in queue] == [auto.pk]
    essay_page = client.get(reverse("grading:response_mark", args=[exam["essay"].pk]))
    assert reverse("grading:response_mark", args=[auto.pk]) in essay_page.content.decode()
    review = client.get(reverse("grading:response_mark", args=[auto.pk])).content.decode()
    assert "streaks follow the noise pattern" in review and "3 / 5" in review
    # Blind marking holds on the review page: the candidate code, never the name.
    assert exam["attempt"].candidate_code in review
    assert resident.username not in review and resident.get_full_name() not in review

    url = reverse("grading:response_override", args=[auto.pk])
    refused = client.post(url, {"points": "5"})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    too_many = client.post(url, {"points": "6", "reason": "x"})
    assert too_many.status_code == 200
    assert not AutoMarkOverride.objects.exists()
    client.post(url, {"points": "5", "reason": "Both options describe noise; full marks."})

    # The total and the gradebook follow: 5 + 12 = 17 of 25 = 68 %.
    assert selectors.attempt_result(exam["attempt"])["score"] == 17.0
    assert selectors.assessment_percent(user=resident, assessment=exam["assessment"]) == 68.0
    row = selectors.resident_grades(user=resident, course=exam["course"])
    assert row.percent == 68.0
    entry = AuditEntry.objects.get(action=AuditAction.AUTO_MARK_OVERRIDE)
    assert (entry.actor, entry.response, entry.resident) == (examiner, auto, resident)
    assert entry.before == {"points": 3.0, "auto_points": 3.0, "overridden": False}
    assert entry.after["points"] == 5.0 and entry.reason.startswith("Both options")
    assert entry.at is not None

    # A second override records the first override's mark as the one it replaced.
    services.auto_mark_override(response=auto, examiner=people["admin"], points=4, reason="Half")
    second = AuditEntry.objects.filter(action=AuditAction.AUTO_MARK_OVERRIDE).first()
    assert second.before["points"] == 5.0 and second.before["overridden"] is True
    assert selectors.attempt_result(exam["attempt"])["score"] == 16.0

    # The resident reads the new mark, the scorer's reason and the examiner's.
    client.force_login(resident)
    for name, html in _pages(client, exam).items():
        assert "16 of 25 points (64 %)" in html, name
    feedback = _pages(client, exam)["feedback"]
    assert "changed it from 5 to 4 points" in feedback and "Half" in feedback
    assert "streaks follow the noise pattern" in feedback


def test_override_is_refused_for_essays_without_reason_and_for_other_roles(client, exam, people):
    with pytest.raises(services.MarkingRefused, match="examiners"):
        services.auto_mark_override(
            response=exam["essay"], examiner=people["examiner"], points=3, reason="x"
        )
    with pytest.raises(services.MarkingRefused, match="reason"):
        services.auto_mark_override(
            response=exam["auto"], examiner=people["examiner"], points=3, reason="  "
        )
    with pytest.raises(services.MarkingRefused, match="between 0 and 5"):
        services.auto_mark_override(
            response=exam["auto"], examiner=people["examiner"], points=7, reason="x"
        )
    url = reverse("grading:response_override", args=[exam["auto"].pk])
    for who in ("resident", "educator"):
        client.force_login(people[who])
        assert client.post(url, {"points": "5", "reason": "mine"}).status_code == 403
    assert not AutoMarkOverride.objects.exists()
