"""The lab as a resident goes through it: lesson, findings, options, run (eager), result."""

from __future__ import annotations

import io

import pydicom
import pytest
from django.urls import reverse

from curriculum.demo import DEMO_LESSON_SLUG, deid_demo_lesson_ensure
from deid_lab import services
from deid_lab.models import DeidAttempt, DeidAttemptStatus, DeidExercise
from tests.deid_lab_tests.matrix_support import deid_lesson_make
from tests.lesson_pages import lesson_page_read


@pytest.fixture
def exercise(db):
    return DeidExercise.objects.create(title="Leaks <b>everywhere</b>", variant="undeclared")


@pytest.fixture
def deid_lesson(demo_lesson, exercise):
    return deid_lesson_make(module=demo_lesson.get_parent(), exercise=exercise)


def start(client, person, lesson, exercise):
    client.force_login(person)
    response = client.post(
        reverse("deid_lab:attempt_create", args=[exercise.pk]), {"lesson_id": lesson.pk}
    )
    assert response.status_code == 302, response.status_code
    return DeidAttempt.objects.filter(user=person).latest("created_at")


def test_the_lesson_offers_the_exercise(client, people, deid_lesson, exercise):
    client.force_login(people["resident"])
    page = lesson_page_read(client, deid_lesson.url).content.decode()
    assert reverse("deid_lab:attempt_create", args=[exercise.pk]) in page
    assert "Leaks &lt;b&gt;everywhere&lt;/b&gt;" in page  # the title is escaped


def test_a_resident_goes_through_the_three_steps(
    client,
    people,
    deid_lesson,
    exercise,
    eager_tasks,
    django_capture_on_commit_callbacks,
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = tmp_path
    attempt = start(client, people["resident"], deid_lesson, exercise)
    detail = reverse("deid_lab:attempt_detail", args=[attempt.pk])
    page = client.get(detail).content.decode()
    assert "HALVORSEN^INGRID^MARIE" in page and 'name="finding" value="(0033,1010)"' in page
    assert "OtherPatientIDsSequence[1].PatientID" in page
    assert (
        client.get(reverse("deid_lab:attempt_image", args=[attempt.pk, "original"]))["Content-Type"]
        == "image/png"
    )

    response = client.post(
        reverse("deid_lab:findings_submit", args=[attempt.pk]),
        {"finding": ["PatientName", "PatientID", "KVP"]},
    )
    assert response.status_code == 302
    page = client.get(detail).content.decode()
    assert "You found 2 of the 38 places" in page
    assert "Burned In Annotation NO" in page  # the trap is explained among the missed

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("deid_lab:run_request", args=[attempt.pk]),
            {"option": ["retain_device_identity"]},
        )
    attempt.refresh_from_db()
    assert attempt.status == DeidAttemptStatus.SUCCEEDED, attempt.error_message
    page = client.get(detail).content.decode()
    assert "Name and MRN burned into the pixels" in page and "tick Clean Pixel Data" in page
    assert "HSCT-7741-0093" in page and "untick Retain Device Identity" in page
    image = client.get(reverse("deid_lab:attempt_image", args=[attempt.pk, "deidentified"]))
    assert b"".join(image.streaming_content)[:4] == b"\x89PNG"
    download = client.get(reverse("deid_lab:deidentified_download", args=[attempt.pk]))
    ds = pydicom.dcmread(io.BytesIO(b"".join(download.streaming_content)))
    assert ds.PatientName == "" and ds.DeviceSerialNumber == "HSCT-7741-0093"
    assert ds.PatientIdentityRemoved == "YES"

    # Replay with better options: the verifier now finds nothing.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("deid_lab:run_request", args=[attempt.pk]),
            {"option": ["clean_pixel_data", "retain_modified_dates"]},
        )
    attempt.refresh_from_db()
    assert attempt.status == DeidAttemptStatus.SUCCEEDED and attempt.result["leaks"] == []
    assert "found none of the planted identifiers" in client.get(detail).content.decode()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["retain_full_dates", "retain_modified_dates"], "not both"),
        (["clean_pixel_data", "retain_uids"], "does not offer: retain_uids"),
        (["make_it_safe"], "does not offer: make_it_safe"),
    ],
)
def test_bad_option_choices_are_refused_with_a_message_and_nothing_is_lost(
    client, people, deid_lesson, exercise, options, message
):
    exercise.offered_options = ["clean_pixel_data", "retain_full_dates", "retain_modified_dates"]
    exercise.save()
    attempt = start(client, people["resident"], deid_lesson, exercise)
    services.deid_findings_submit(attempt=attempt, paths=["PatientName"])
    response = client.post(
        reverse("deid_lab:run_request", args=[attempt.pk]), {"option": options}, follow=True
    )
    assert message in response.content.decode()
    attempt.refresh_from_db()
    assert attempt.status == DeidAttemptStatus.CHOOSING and attempt.findings == ["PatientName"]


def test_findings_are_scored_once_and_unknown_paths_refused(client, people, deid_lesson, exercise):
    attempt = start(client, people["resident"], deid_lesson, exercise)
    url = reverse("deid_lab:findings_submit", args=[attempt.pk])
    response = client.post(url, {"finding": ["PatientName", "NotAnAttribute"]}, follow=True)
    assert "not attributes of this study: NotAnAttribute" in response.content.decode()
    assert DeidAttempt.objects.get(pk=attempt.pk).status == DeidAttemptStatus.FINDING
    client.post(url, {"finding": ["PatientName"]})
    response = client.post(url, {"finding": ["PatientID"]}, follow=True)
    assert "already scored" in response.content.decode()
    assert DeidAttempt.objects.get(pk=attempt.pk).findings == ["PatientName"]


def test_the_run_waits_for_the_findings(client, people, deid_lesson, exercise):
    attempt = start(client, people["resident"], deid_lesson, exercise)
    response = client.post(
        reverse("deid_lab:run_request", args=[attempt.pk]), {"option": []}, follow=True
    )
    assert "Submit your findings first" in response.content.decode()


def test_others_may_look_but_not_work(client, people, deid_lesson, exercise):
    attempt = start(client, people["resident"], deid_lesson, exercise)
    client.force_login(people["educator"])
    page = client.get(reverse("deid_lab:attempt_detail", args=[attempt.pk])).content.decode()
    assert "read only" in page and "Submit my findings" not in page
    assert (
        client.post(reverse("deid_lab:findings_submit", args=[attempt.pk]), {}).status_code == 404
    )
    client.force_login(people["outsider"])
    assert client.get(reverse("deid_lab:attempt_detail", args=[attempt.pk])).status_code == 404
    response = client.post(
        reverse("deid_lab:attempt_create", args=[exercise.pk]), {"lesson_id": deid_lesson.pk}
    )
    assert response.status_code == 403


def test_an_exercise_not_in_the_lesson_cannot_be_started_from_it(
    client, people, demo_lesson, exercise
):
    client.force_login(people["resident"])
    response = client.post(
        reverse("deid_lab:attempt_create", args=[exercise.pk]), {"lesson_id": demo_lesson.pk}
    )
    assert response.status_code == 403


def test_educators_author_the_exercise_in_the_wagtail_admin(client, people):
    client.force_login(people["educator"])
    url = reverse("wagtailsnippets_deid_lab_deidexercise:add")
    assert 'name="offered_options"' in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "title": "Trap",
            # The rich-text editor posts Draftail's content state.
            "instructions": '{"blocks": [], "entityMap": {}}',
            "variant": "undeclared",
            "offered_options": ["clean_pixel_data", "retain_uids"],
            "is_published": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = DeidExercise.objects.get(title="Trap")
    assert created.offered_options == ["clean_pixel_data", "retain_uids"]
    assert [o.key for o in created.options_offered] == ["retain_uids", "clean_pixel_data"]


def test_the_demo_lesson_embeds_the_demo_exercise_once(demo_lesson):
    course = demo_lesson.get_parent().get_parent()
    lesson = deid_demo_lesson_ensure(course=course)
    assert lesson is not None and lesson.live
    assert [block.block_type for block in lesson.body] == ["paragraph", "deid"]
    assert lesson.body[1].value["exercise"].title == services.DEMO_EXERCISE_TITLE
    assert deid_demo_lesson_ensure(course=course).pk == lesson.pk
    assert DeidExercise.objects.filter(title=services.DEMO_EXERCISE_TITLE).count() == 1


def test_a_waiting_run_shows_progress_and_can_be_cancelled(client, people, deid_lesson, exercise):
    """Without a worker the run stays queued: the fragment polls, and cancelling stops it."""
    attempt = start(client, people["resident"], deid_lesson, exercise)
    services.deid_findings_submit(attempt=attempt, paths=[])
    services.deid_run_request(attempt=attempt, option_keys=["clean_pixel_data"])
    fragment = client.get(reverse("deid_lab:run_status", args=[attempt.pk])).content.decode()
    assert "hx-get" in fragment and "<progress" in fragment and "Waiting for a worker" in fragment
    client.post(reverse("deid_lab:run_cancel", args=[attempt.pk]))
    attempt.refresh_from_db()
    assert attempt.status == DeidAttemptStatus.CANCELLED
    # A message delivered after the cancel finds nothing to do.
    assert services.deid_run_execute(attempt_pk=attempt.pk) is None
    assert DeidAttempt.objects.get(pk=attempt.pk).status == DeidAttemptStatus.CANCELLED
    fragment = client.get(reverse("deid_lab:run_status", args=[attempt.pk])).content.decode()
    assert "hx-get" not in fragment


def test_the_demo_lesson_goes_in_the_data_protection_module_when_it_is_loaded(demo_lesson):
    from curriculum.services import curriculum_content_load

    course, _report = curriculum_content_load(
        only_lessons={"data-protection-gdpr-deidentification/deidentification-ps315"}
    )
    lesson = deid_demo_lesson_ensure(course=course)
    assert lesson.get_parent().slug == "data-protection-gdpr-deidentification"
    # The loader leaves the lab's lesson alone on the next load.
    _course, report = curriculum_content_load(
        only_lessons={"data-protection-gdpr-deidentification/deidentification-ps315"}
    )
    assert report.kept_edits == []
    assert lesson.get_parent().get_children().filter(slug=DEMO_LESSON_SLUG).exists()


def test_a_deleted_exercise_shows_a_placeholder(db):
    from wagtail.blocks import StreamValue

    from curriculum.blocks import LessonBodyBlock

    body = StreamValue(
        LessonBodyBlock(),
        [{"type": "deid", "value": {"exercise": 999999, "introduction": ""}}],
        is_lazy=True,
    )
    assert "This exercise is no longer available" in "".join(b.render() for b in body)


def test_a_resident_cannot_queue_more_runs_than_the_lab_limit(
    people, deid_lesson, exercise, settings
):
    settings.LAB_RUN_MAX_ACTIVE_PER_USER = 1
    first, second = (
        services.deid_attempt_create(user=people["resident"], exercise=exercise) for _ in range(2)
    )
    for attempt in (first, second):
        services.deid_findings_submit(attempt=attempt, paths=[])
    services.deid_run_request(attempt=first, option_keys=[])
    with pytest.raises(services.DeidRefused, match="already have 1 runs"):
        services.deid_run_request(attempt=second, option_keys=[])
    assert DeidAttempt.objects.get(pk=second.pk).status == DeidAttemptStatus.CHOOSING
