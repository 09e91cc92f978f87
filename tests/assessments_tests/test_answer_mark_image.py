"""A resident's mark on an image question, drawn as a label map for the viewer (issue 17):
the point where it was placed, at the size of the image; its candidate and staff may fetch
it, other residents get 404; the result page names the reference segmentation beside it
only once the key is released."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from assessments import selectors, services
from assessments.ground_truth import ground_truth_load, segment_labels
from assessments.services import question_ensure
from tests.assessments_tests.builders import course_of, exam

pytestmark = pytest.mark.django_db


@pytest.fixture
def marked(chest_ct, demo_lesson, people):
    """The resident's submitted exam attempt with a point placed at (column 100.5, row 120.5)
    on the spleen's largest slice."""
    from studies.services import study_courses_set

    study, ct, seg = chest_ct
    course = course_of(demo_lesson)
    study_courses_set(study=study, courses=[course])
    numbers = {name: number for number, name in segment_labels(seg.series_instance_uid)}
    data = {
        "study_uid": study.study_instance_uid,
        "series_uid": ct.series_instance_uid,
        "seg_series_uid": seg.series_instance_uid,
        "segment_number": numbers["Spleen"],
    }
    question = question_ensure(
        title="Click the spleen", kind="image_point", prompt="<p>Spleen.</p>", data=data
    )
    paper = exam([question], course=course)
    truth = ground_truth_load(question.data)
    k = int(truth.mask.reshape(len(truth.sop_uids), -1).sum(axis=1).argmax())
    attempt = services.attempt_start(assessment=paper, user=people["resident"])
    mark = {"kind": "point", "sopInstanceUID": truth.sop_uids[k], "slice": k + 1}
    services.response_save(
        attempt=attempt,
        position=0,
        form={"marks": [json.dumps({"marks": [{**mark, "image": [[100.5, 120.5]]}]})]},
    )
    attempt = services.attempt_submit(attempt=attempt)
    return {"attempt": attempt, "response": attempt.responses.get(), "truth": truth, "k": k}


def test_the_mark_is_drawn_where_it_was_placed_for_its_candidate_and_staff(client, marked, people):
    url = reverse("assessments:answer_mark", args=[marked["response"].pk])
    client.force_login(people["resident"])
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    labels = np.asarray(Image.open(io.BytesIO(response.content)))
    assert labels.shape == marked["truth"].mask.shape[1:]
    assert set(np.unique(labels)) == {0, 1}
    rows, columns = np.nonzero(labels)
    # A ring around the point: centred on it, a few pixels across, nothing elsewhere.
    assert abs(rows.mean() - 120.0) < 1 and abs(columns.mean() - 100.0) < 1
    assert rows.max() - rows.min() < 20 and columns.max() - columns.min() < 20
    for who in ("examiner", "educator", "admin"):
        client.force_login(people[who])
        assert client.get(url).status_code == 200, who
    client.force_login(people["outsider"])
    assert client.get(url).status_code == 404


def test_the_result_names_the_reference_beside_the_mark_only_after_the_key_release(
    client, marked, people
):
    from django.utils import timezone

    from grading.services import answer_key_release, assessment_release

    attempt = marked["attempt"]
    seg_uid = marked["response"].question.data["seg_series_uid"]
    mark_url = reverse("assessments:answer_mark", args=[marked["response"].pk])
    client.force_login(people["resident"])
    result_url = reverse("assessments:result", args=[attempt.pk])
    assert seg_uid not in client.get(result_url).content.decode()
    assessment_release(assessment=attempt.assessment, by=people["educator"])
    html = client.get(result_url).content.decode()
    assert "Marks not yet released" not in html and seg_uid not in html
    assert "data-viewer" not in html  # the mark on the image waits for the key
    type(attempt.assessment).objects.filter(pk=attempt.assessment_id).update(
        closes_at=timezone.now()
    )
    answer_key_release(assessment=attempt.assessment, by=people["educator"])
    html = client.get(result_url).content.decode()
    assert seg_uid in html and mark_url in html
    marks = selectors.attempt_marks(attempt=attempt)
    layers = json.loads(selectors.item_image_overlays(marks.items[0], key_released=True))
    assert [layer["type"] for layer in layers] == ["seg", "labelmap"]
    assert layers[1]["slice"] == marked["k"] + 1
