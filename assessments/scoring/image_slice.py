"""Choose the slice: scroll to the image that shows the finding best and place a point.

The target slice is `target_slice` (1-based, in the series' order) when given, else the
slice where the segment is largest. Rule: full points when the chosen slice is within
`tolerance_slices` (default 0) of the target, else 0. Only the slice of the point counts,
not where on the image it lies.
"""

from __future__ import annotations

import numpy as np

from assessments.scoring.base import AnswerError, FormValues, GroundTruth, Score, require
from assessments.scoring.image_marks import image_data_validate, mark_slice, marks_from_form


def target_slice_index(data: dict, truth: GroundTruth) -> int:
    if data.get("target_slice"):
        return int(data["target_slice"]) - 1
    areas = truth.mask.reshape(truth.mask.shape[0], -1).sum(axis=1)
    return int(np.argmax(areas))


class ImageSliceScorer:
    kind = "image_slice"
    needs_ground_truth = True

    def validate_data(self, data: dict) -> dict:
        data = image_data_validate(data)
        tolerance = data.get("tolerance_slices", 0)
        require(
            isinstance(tolerance, int) and tolerance >= 0,
            "'tolerance_slices' is a whole number, 0 or more.",
        )
        target = data.get("target_slice")
        require(
            target is None or (isinstance(target, int) and target >= 1),
            "'target_slice' is empty (the slice where the segment is largest) or 1 or more.",
        )
        return {**data, "tolerance_slices": tolerance, "target_slice": target}

    def answer_from_form(self, data: dict, form: FormValues) -> dict:
        try:
            return marks_from_form(data, form, kind="point")[-1]
        except AnswerError:
            raise AnswerError(
                "Scroll to the slice you choose and place a point on it with the point tool."
            ) from None

    def score(self, data: dict, answer, *, max_points: float, truth: GroundTruth | None = None):
        assert truth is not None
        k = mark_slice(truth, answer)
        if k is None:
            return Score(0.0, "The point is not on an image of this series.")
        target = target_slice_index(data, truth)
        off = abs(k - target)
        if off <= data["tolerance_slices"]:
            return Score(max_points, f"Correct: slice {k + 1} (target {target + 1}).")
        return Score(
            0.0,
            f"Slice {k + 1} is {off} slices from the target slice {target + 1}"
            f" (tolerance {data['tolerance_slices']}).",
        )

    def answer_key(self, data: dict) -> str:
        if data.get("target_slice"):
            return f"Slice {data['target_slice']} (± {data['tolerance_slices']})."
        return f"The slice where the finding is largest (± {data['tolerance_slices']})."
