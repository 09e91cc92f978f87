"""A de-identification run through a real Redis and a real `celery worker` process."""

from __future__ import annotations

import time

import pydicom
import pytest

from deid_lab import services
from deid_lab.models import DeidAttempt, DeidAttemptStatus, DeidExercise
from tests.deid_lab_tests.matrix_support import deid_lesson_make

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def wait_for_final(attempt_pk: int, *, timeout: float) -> DeidAttempt:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attempt = DeidAttempt.objects.get(pk=attempt_pk)
        if attempt.status in {DeidAttemptStatus.SUCCEEDED, DeidAttemptStatus.FAILED}:
            return attempt
        time.sleep(0.2)
    raise AssertionError(f"Timed out after {timeout}s waiting for run {attempt_pk}")


def test_a_run_is_deidentified_and_verified_on_the_worker(celery_worker, demo_lesson, people):
    exercise = DeidExercise.objects.create(title="Worker exercise", variant="undeclared")
    lesson = deid_lesson_make(module=demo_lesson.get_parent(), exercise=exercise)
    attempt = services.deid_attempt_create(
        user=people["resident"], exercise=exercise, lesson=lesson
    )
    services.deid_findings_submit(attempt=attempt, paths=["PatientName", "PixelData"])
    services.deid_run_request(attempt=attempt, option_keys=["retain_device_identity"])

    done = wait_for_final(attempt.pk, timeout=90)
    assert done.status == DeidAttemptStatus.SUCCEEDED, (
        done.error_message,
        celery_worker.log_path.read_text()[-3000:],
    )
    assert done.attempts == 1 and done.progress_percent == 100
    leaks = {(leak["item_key"], leak["path"]) for leak in done.result["leaks"]}
    # Basic Profile without Clean Pixel Data leaves the burned-in text; Retain Device
    # Identity keeps the station name and the serial number. Nothing else remains.
    assert leaks == {
        ("burned_in", "PixelData"),
        ("device", "StationName"),
        ("device", "DeviceSerialNumber"),
    }
    written = pydicom.dcmread(done.deidentified_file.path)
    assert written.DeviceSerialNumber == "HSCT-7741-0093"
    assert written.PatientName == "" and "OtherPatientIDsSequence" not in written
    assert done.deidentified_image.read(4) == b"\x89PNG"
