"""Click the finding: one point on the image.

Rule: full points when the point falls in a pixel inside the segment; otherwise the
distance in millimetres from the point to the nearest segment pixel centre is measured in
patient space (pixel spacing within a slice, slice positions across slices), and the
point earns `near_credit` (default 1) of the points when that distance is within
`tolerance_mm` (default 5 mm), else 0.
"""

from __future__ import annotations

import numpy as np

from assessments.scoring.base import (
    FormValues,
    GroundTruth,
    Score,
    finite_number,
    points_of,
    require,
)
from assessments.scoring.image_marks import image_data_validate, mark_slice, marks_from_form


def distance_to_mask_mm(truth: GroundTruth, *, slice_index: int, column: float, row: float):
    """Millimetres from (column, row) on slice `slice_index` to the nearest mask pixel centre."""
    z, r, c = np.nonzero(truth.mask)
    if z.size == 0:
        return None
    positions = np.asarray(truth.slice_positions_mm, dtype=float)
    row_mm, column_mm = truth.pixel_spacing_mm
    dz = positions[z] - positions[slice_index]
    dr = (r + 0.5 - row) * row_mm
    dc = (c + 0.5 - column) * column_mm
    return float(np.sqrt(dz * dz + dr * dr + dc * dc).min())


class ImagePointScorer:
    kind = "image_point"
    needs_ground_truth = True

    def validate_data(self, data: dict) -> dict:
        data = image_data_validate(data)
        tolerance = finite_number(data.get("tolerance_mm", 5.0), "'tolerance_mm' is a number.")
        near = finite_number(data.get("near_credit", 1.0), "'near_credit' is a number.")
        require(tolerance >= 0, "'tolerance_mm' cannot be negative.")
        require(0 <= near <= 1, "'near_credit' is between 0 and 1.")
        return {**data, "tolerance_mm": tolerance, "near_credit": near}

    def answer_from_form(self, data: dict, form: FormValues) -> dict:
        # The last point placed is the answer (residents move their mind, not the old mark).
        return marks_from_form(data, form, kind="point")[-1]

    def score(self, data: dict, answer, *, max_points: float, truth: GroundTruth | None = None):
        assert truth is not None
        k = mark_slice(truth, answer)
        if k is None:
            return Score(0.0, "The point is not on an image of this series.")
        column, row = answer["image"][0]
        r, c = int(np.floor(row)), int(np.floor(column))
        rows, columns = truth.mask.shape[1:]
        if 0 <= r < rows and 0 <= c < columns and truth.mask[k, r, c]:
            return Score(max_points, "Correct: the point is on the finding.")
        distance = distance_to_mask_mm(truth, slice_index=k, column=column, row=row)
        if distance is None:
            return Score(0.0, "This question has no marked finding; tell your educator.")
        if distance <= data["tolerance_mm"]:
            return Score(
                points_of(data["near_credit"], max_points),
                f"Close: {distance:.1f} mm from the finding (within {data['tolerance_mm']:g} mm).",
            )
        return Score(
            0.0,
            f"The point is {distance:.1f} mm from the finding"
            f" (more than {data['tolerance_mm']:g} mm).",
        )

    def answer_key(self, data: dict) -> str:
        return "A point on the segmented finding (shown in the key overlay)."
