"""Masks read from the library's real DICOM SEG, and an image question scored against them."""

from __future__ import annotations

import json
import re

import numpy as np
import pydicom
import pytest

from assessments.ground_truth import ground_truth_load, segment_labels
from assessments.models import QuestionKind
from assessments.scoring.registry import scorer_for
from studies.selectors import instance_file_path

pytestmark = pytest.mark.django_db


def _data(ct, seg, label, **extra):
    numbers = {name: number for number, name in segment_labels(seg.series_instance_uid)}
    return {
        "study_uid": ct.study.study_instance_uid,
        "series_uid": ct.series_instance_uid,
        "seg_series_uid": seg.series_instance_uid,
        "segment_number": numbers[label],
        **extra,
    }


def test_the_mask_matches_the_seg_frames_it_came_from(chest_ct):
    _study, ct, seg = chest_ct
    data = _data(ct, seg, "Spleen")
    truth = ground_truth_load(data)
    instances = list(ct.instances.order_by("instance_number"))
    assert truth.mask.shape == (len(instances), instances[0].rows, instances[0].columns)
    assert truth.sop_uids[0] == instances[0].sop_instance_uid
    # The same frames decoded the ordinary way (every frame) agree with the one-frame reader.
    ds = pydicom.dcmread(instance_file_path(instance=seg.instances.get()))
    frames = ds.pixel_array
    checked = 0
    for index, frame in enumerate(ds.PerFrameFunctionalGroupsSequence):
        if frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber != 11:
            continue
        source = frame.DerivationImageSequence[0].SourceImageSequence[0]
        k = truth.slice_index(source.ReferencedSOPInstanceUID)
        assert np.array_equal(truth.mask[k], frames[index].astype(bool))
        checked += 1
    assert checked == int(truth.mask.any(axis=(1, 2)).sum()) > 5
    # Slices are 2.5 mm apart in this series; pixel spacing comes from the CT.
    steps = np.diff(truth.slice_positions_mm)
    assert np.allclose(np.abs(steps), abs(steps[0])) and abs(steps[0]) > 0
    assert truth.pixel_spacing_mm[0] > 0


def _point_form(ct, sop_uid, column, row):
    return {
        "marks": [
            json.dumps(
                {
                    "seriesInstanceUID": ct.series_instance_uid,
                    "marks": [
                        {
                            "kind": "point",
                            "slice": 1,
                            "sopInstanceUID": sop_uid,
                            "image": [[column, row]],
                        }
                    ],
                }
            )
        ]
    }


def test_a_point_on_the_spleen_scores_and_one_beside_it_does_not(chest_ct):
    _study, ct, seg = chest_ct
    scorer = scorer_for(QuestionKind.IMAGE_POINT)
    data = scorer.validate_data(_data(ct, seg, "Spleen", tolerance_mm=5.0))
    truth = ground_truth_load(data)
    k = int(truth.mask.reshape(len(truth.sop_uids), -1).sum(axis=1).argmax())
    rows, columns = np.nonzero(truth.mask[k])
    inside = rows.size // 2
    answer = scorer.answer_from_form(
        data, _point_form(ct, truth.sop_uids[k], columns[inside] + 0.5, rows[inside] + 0.5)
    )
    assert scorer.score(data, answer, max_points=2, truth=truth).points == 2
    # Ten pixels left of the leftmost spleen pixel in its row: 10 x column spacing away.
    row = rows[0]
    leftmost = columns[rows == row].min()
    answer = scorer.answer_from_form(
        data, _point_form(ct, truth.sop_uids[k], leftmost - 10 + 0.5, row + 0.5)
    )
    result = scorer.score(data, answer, max_points=2, truth=truth)
    in_plane = 10 * truth.pixel_spacing_mm[1]
    distance = float(re.search(r"is ([0-9.]+) mm", result.feedback).group(1))
    # At most the in-plane distance (a neighbouring slice may hold a nearer spleen pixel),
    # and more than the 5 mm tolerance.
    assert result.points == 0
    assert 5 < distance <= in_plane + 0.05
