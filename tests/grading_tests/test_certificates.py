"""Certificates: issued when a course is complete, a PDF whose text is checked, and a public
verification page that states the certificate and nothing else."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from accounts.services import enrolment_create
from curriculum.services import lesson_completion_record
from grading import selectors, services
from grading.models import Certificate
from tests.grading_tests.builders import course_with_lessons, essay_exam, finished_attempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def course(people):
    built = course_with_lessons()
    enrolment_create(user=people["resident"], course=built["course"])
    exam = essay_exam(
        course=built["course"], title="Final exam", double=False, with_rubric=False, released=True
    )
    _attempt, essay = finished_attempt(exam, people["resident"], text="Essay", auto_score=4.0)
    return {**built, "exam": exam, "essay": essay}


def _complete_lessons(course, user):
    for lesson in course["lessons"]:
        lesson_completion_record(user=user, lesson=lesson)


def test_requirements_need_every_lesson_and_a_released_pass(course, people):
    resident = people["resident"]
    requirements = selectors.course_requirements(user=resident, course=course["course"])
    assert (requirements.lessons_completed, requirements.lessons_total) == (0, 2)
    assert not requirements.met
    _complete_lessons(course, resident)
    # Marked 10/20: 4 + 10 = 14 of 25 = 56 % >= 50 %, but not released yet.
    services.mark_submit(response=course["essay"], examiner=people["examiner"], points=10)
    assert not selectors.course_requirements(user=resident, course=course["course"]).met
    with pytest.raises(services.CertificateRefused):
        services.certificate_issue(user=resident, course=course["course"])
    # Release issues the certificate on the spot.
    services.marking_release(response=course["essay"], by=people["examiner"])
    certificate = Certificate.objects.get(user=resident, course=course["course"])
    assert len(certificate.code) >= 40
    assert [m["title"] for m in certificate.modules] == ["Noise and artefacts", "Domain shift"]
    assert certificate.modules[0]["outcomes"] == [
        "Explain how noise changes a model's output",
        "Know the basics of Noise and artefacts",
    ]


def test_a_failed_exam_gives_no_certificate(client, course, people):
    resident = people["resident"]
    _complete_lessons(course, resident)
    # 4 + 6 = 10 of 25 = 40 % < 50 %
    services.mark_submit(response=course["essay"], examiner=people["examiner"], points=6)
    services.marking_release(response=course["essay"], by=people["examiner"])
    client.force_login(resident)
    response = client.post(
        reverse("grading:certificate_claim", args=[course["course"].pk]), follow=True
    )
    assert "requirements are not met" in response.content.decode()
    assert not Certificate.objects.exists()


@pytest.fixture
def certificate(course, people):
    _complete_lessons(course, people["resident"])
    services.mark_submit(response=course["essay"], examiner=people["examiner"], points=16)
    services.marking_release(response=course["essay"], by=people["examiner"])
    return Certificate.objects.get()


def test_the_pdf_states_name_course_modules_and_code(client, certificate, people):
    resident = people["resident"]
    client.force_login(resident)
    response = client.get(reverse("grading:certificate_download", args=[certificate.pk]))
    assert response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    text = " ".join(text.split())
    assert resident.get_full_name() in text
    assert "Imaging AI failures" in text
    assert "Noise and artefacts" in text and "Domain shift" in text
    assert "Recognise a scanner-induced domain shift" in text
    assert certificate.code in text
    # Someone else's certificate is not theirs to download.
    client.force_login(people["outsider"])
    assert (
        client.get(reverse("grading:certificate_download", args=[certificate.pk])).status_code
        == 404
    )


def test_the_verification_page_is_public_and_says_only_what_the_certificate_says(
    client, certificate, people
):
    resident = people["resident"]
    response = client.get(reverse("certificates:verify", args=[certificate.code]))
    html = response.content.decode()
    assert response.status_code == 200
    assert resident.get_full_name() in html
    assert "Imaging AI failures" in html and "Domain shift" in html
    assert certificate.issued_at.strftime("%Y") in html
    assert resident.email not in html
    assert resident.username not in html.replace(resident.get_full_name(), "")
    assert "Final exam" not in html  # no grades, no assessments
    assert "64" not in html  # the exam's 16 + 4 = 20 of 25 = 80 %, nor any score

    unknown = client.get(reverse("certificates:verify", args=["not-a-real-code"]))
    assert unknown.status_code == 404
    assert "No certificate has this code" in unknown.content.decode()


def test_my_grades_offers_the_certificate(client, certificate, people):
    client.force_login(people["resident"])
    html = client.get(reverse("grading:my_grades")).content.decode()
    assert reverse("grading:certificate_download", args=[certificate.pk]) in html
