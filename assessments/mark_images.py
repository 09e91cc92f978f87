"""A candidate's mark on an image question drawn as a label map, so that the viewer can show
it over the images beside the reference segmentation once the exam's key is released.

The viewer's "labelmap" overlay (templates/viewer/viewer.html) takes an 8-bit PNG the size of
the image, value 1 where the mark is drawn and 0 elsewhere, bound to the image the mark was
placed on. Marks are stored in image coordinates, (0, 0) at the top-left corner of the first
pixel (assessments.scoring.image_marks).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

from assessments.ground_truth import GroundTruthMissing, ground_truth_load
from assessments.models import Response
from assessments.scoring.image_marks import box_mask, polygon_mask

# A point is drawn as a ring with a dot at its centre, big enough to see on a 512 x 512 CT
# at the viewer's usual zoom without hiding the edge of the reference region under it.
POINT_RING_RADIUS_PX = 7.0
POINT_DOT_RADIUS_PX = 1.5
LINE_WIDTH_PX = 2


def _mark_mask(kind: str, image: list[list[float]], shape: tuple[int, int]) -> np.ndarray | None:
    if kind == "point":
        column, row = image[0][:2]
        rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]]
        distance = np.hypot(columns + 0.5 - column, rows + 0.5 - row)
        ring = np.abs(distance - POINT_RING_RADIUS_PX) <= LINE_WIDTH_PX / 2
        return ring | (distance <= POINT_DOT_RADIUS_PX)
    if kind == "box" and len(image) >= 2:
        filled = box_mask(shape, image)
    elif kind == "outline" and len(image) >= 3:
        filled = polygon_mask(shape, image)
    else:
        return None
    # The edge only: the reference region under the mark stays visible.
    return filled & ~ndimage.binary_erosion(filled, iterations=LINE_WIDTH_PX)


def answer_mark_png(response: Response) -> bytes | None:
    """The response's image mark as a label-map PNG, or None (not an image answer, nothing
    placed, or the images it was placed on are no longer in the library)."""
    question, answer = response.question, response.answer
    if not question.is_image_question or not isinstance(answer, dict):
        return None
    image = answer.get("image") or []
    if not image:
        return None
    try:
        # The reference segmentation lies on the image grid: its shape is the image's.
        shape = ground_truth_load(question.data).mask.shape[1:]
    except GroundTruthMissing:
        return None
    mask = _mark_mask(str(answer.get("kind")), image, shape)
    if mask is None:
        return None
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
