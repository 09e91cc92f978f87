from __future__ import annotations

import numpy as np
from scipy import ndimage

from zoo.perturbations.base import Perturbation, image_copy


class Rotation(Perturbation):
    """In-plane rotation, counter-clockwise, about the image centre.

    Multiples of 90 degrees on a square image are exact pixel permutations (what a wrong
    orientation in the header produces); other angles, or non-square images, are
    interpolated (bilinear) on the same grid and filled with the image's minimum.
    Volumes are rotated slice by slice.
    """

    key = "rotation"
    title = "Rotation (orientation error)"
    explanation = (
        "Which way is up in an image is not in the pixels but in the header: the Image "
        "Orientation (Patient) and Patient Orientation attributes tell a viewer how rows and "
        "columns lie in the patient. A wrong or missing value, a scanned film fed in sideways, "
        "or a conversion that drops the header shows the anatomy rotated: a chest radiograph "
        "lying on its side, an axial slice with the spine at the top. Radiologists rotate "
        "the image in their head without noticing; a model that has only ever seen the "
        "standard orientation may not. Here the slice is rotated in its plane by the chosen "
        "angle; 90, 180 and 270 degrees are exact."
    )
    severity_unit = "rotation (degrees, counter-clockwise)"
    severity_min = 0.0
    severity_max = 270.0

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        quarter_turns, remainder = divmod(float(severity), 90.0)
        rows, cols = image.shape[-2:]
        if remainder == 0.0 and rows == cols:
            return np.rot90(image, k=int(quarter_turns), axes=(-2, -1)).astype(np.float32)
        rotated = ndimage.rotate(
            image.astype(np.float64),
            severity,
            axes=(-1, -2),
            reshape=False,
            order=1,
            mode="constant",
            cval=float(image.min()),
        )
        return rotated.astype(np.float32)
