"""The segmentation that scores an exam's image question is the answer key: while a resident
sits the exam, DICOMweb withholds it from them as if it did not exist."""

from __future__ import annotations

import pytest

from assessments.ground_truth import segment_labels
from assessments.services import attempt_start, attempt_submit, question_ensure
from studies.services import study_courses_set
from tests.assessments_tests.builders import course_of, exam

pytestmark = pytest.mark.django_db


def _spleen_question(study, ct, seg):
    numbers = {name: number for number, name in segment_labels(seg.series_instance_uid)}
    return question_ensure(
        title="Click the spleen",
        kind="image_point",
        prompt="<p>Click the spleen.</p>",
        data={
            "study_uid": study.study_instance_uid,
            "series_uid": ct.series_instance_uid,
            "seg_series_uid": seg.series_instance_uid,
            "segment_number": numbers["Spleen"],
        },
    )


def test_the_answer_key_is_withheld_during_the_exam_only(chest_ct, demo_lesson, people, client):
    study, ct, seg = chest_ct
    course = course_of(demo_lesson)
    study_courses_set(study=study, courses=[course])
    paper = exam([_spleen_question(study, ct, seg)], course=course)
    resident = people["resident"]
    client.force_login(resident)
    base = f"/dicomweb/studies/{study.study_instance_uid}"
    seg_metadata = f"{base}/series/{seg.series_instance_uid}/metadata"

    def series_listed():
        return {s["0020000E"]["Value"][0] for s in client.get(f"{base}/series").json()}

    assert client.get(seg_metadata).status_code == 200
    attempt = attempt_start(assessment=paper, user=resident)

    assert client.get(seg_metadata).status_code == 404
    assert series_listed() == {ct.series_instance_uid}
    instances = client.get(f"{base}/instances").json()
    assert all(i["0020000E"]["Value"][0] == ct.series_instance_uid for i in instances)
    # The images themselves stay readable: the question is about them.
    assert client.get(f"{base}/series/{ct.series_instance_uid}/metadata").status_code == 200
    # Staff are never held back.
    client.force_login(people["examiner"])
    assert client.get(seg_metadata).status_code == 200

    client.force_login(resident)
    attempt_submit(attempt=attempt)
    assert client.get(seg_metadata).status_code == 200
    assert seg.series_instance_uid in series_listed()
