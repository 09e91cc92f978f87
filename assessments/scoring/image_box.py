"""Draw a box around the finding. Scored on the slice the box was drawn on.

Rule: the box is rasterised (pixels whose centres lie inside it) and compared with the
segment on that slice by Dice (default) or IoU. Credit is 0 at or below
`no_credit_below` (default 0.3), full at or above `full_credit_at` (default 0.7), and
linear between.
"""

from __future__ import annotations

from assessments.scoring.base import FormValues, GroundTruth, Score, linear_credit, points_of
from assessments.scoring.image_marks import (
    box_mask,
    mark_slice,
    marks_from_form,
    overlap,
    overlap_data_validate,
)


def overlap_score(data: dict, drawn, truth_slice, *, max_points: float, shape_name: str):
    dice, iou = overlap(drawn, truth_slice)
    value = dice if data["metric"] == "dice" else iou
    credit = linear_credit(value, zero_at=data["no_credit_below"], full_at=data["full_credit_at"])
    name = "Dice" if data["metric"] == "dice" else "IoU"
    return Score(
        points_of(credit, max_points),
        f"Your {shape_name} overlaps the finding with {name} {value:.2f} (Dice {dice:.2f},"
        f" IoU {iou:.2f}); full credit from {data['full_credit_at']:g},"
        f" none at or below {data['no_credit_below']:g}.",
    )


class ImageBoxScorer:
    kind = "image_box"
    needs_ground_truth = True

    def validate_data(self, data: dict) -> dict:
        return overlap_data_validate(data)

    def answer_from_form(self, data: dict, form: FormValues) -> dict:
        mark = marks_from_form(data, form, kind="box")[-1]
        if len(mark["image"]) < 2:
            from assessments.scoring.base import AnswerError

            raise AnswerError("Drag to draw a box: it needs two corners.")
        return mark

    def score(self, data: dict, answer, *, max_points: float, truth: GroundTruth | None = None):
        assert truth is not None
        k = mark_slice(truth, answer)
        if k is None:
            return Score(0.0, "The box is not on an image of this series.")
        drawn = box_mask(truth.mask.shape[1:], answer["image"])
        return overlap_score(data, drawn, truth.mask[k], max_points=max_points, shape_name="box")

    def answer_key(self, data: dict) -> str:
        return "A box around the segmented finding."
