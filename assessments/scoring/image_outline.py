"""Outline the finding: a closed freehand contour, scored like a box (see image_box).

The contour is rasterised by the even-odd rule on pixel centres, then compared with the
segment on the slice it was drawn on (Dice or IoU, credit thresholds as for boxes).
"""

from __future__ import annotations

from assessments.scoring.base import AnswerError, FormValues, GroundTruth, Score
from assessments.scoring.image_box import overlap_score
from assessments.scoring.image_marks import (
    mark_slice,
    marks_from_form,
    overlap_data_validate,
    polygon_mask,
)


class ImageOutlineScorer:
    kind = "image_outline"
    needs_ground_truth = True

    def validate_data(self, data: dict) -> dict:
        return overlap_data_validate(data)

    def answer_from_form(self, data: dict, form: FormValues) -> dict:
        mark = marks_from_form(data, form, kind="outline")[-1]
        if len(mark["image"]) < 3:
            raise AnswerError("An outline needs at least three points; draw it again.")
        return mark

    def score(self, data: dict, answer, *, max_points: float, truth: GroundTruth | None = None):
        assert truth is not None
        k = mark_slice(truth, answer)
        if k is None:
            return Score(0.0, "The outline is not on an image of this series.")
        drawn = polygon_mask(truth.mask.shape[1:], answer["image"])
        return overlap_score(
            data, drawn, truth.mask[k], max_points=max_points, shape_name="outline"
        )

    def answer_key(self, data: dict) -> str:
        return "An outline of the segmented finding."
