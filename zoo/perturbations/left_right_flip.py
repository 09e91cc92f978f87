from __future__ import annotations

import numpy as np

from zoo.perturbations.base import Perturbation, image_copy, is_switched_on


class LeftRightFlip(Perturbation):
    """Columns reversed (a mirror about the vertical midline); applying it twice undoes it."""

    key = "left-right-flip"
    title = "Left-right flip (orientation error)"
    explanation = (
        "The patient's left and right are known only from the header (Image Orientation "
        "(Patient), Patient Orientation) and from the side marker on a radiograph. A film "
        "digitised back to front, a wrong flag in a conversion, or a modality that writes the "
        "wrong orientation mirrors the image: the heart appears on the right, the liver on "
        "the left. A radiologist may notice situs inversus that is not there; the danger is "
        "wrong-side reporting and surgery. A model that learned the heart is on the left, "
        "or that reads laterality, gives a different answer. Here the image is mirrored "
        "about its vertical midline (severity 1) or left alone (0)."
    )
    severity_unit = "flipped (0 = no, 1 = yes)"
    severity_min = 0.0
    severity_max = 1.0

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if not is_switched_on(severity):
            return image_copy(image)
        return np.flip(image, axis=-1).astype(np.float32)
