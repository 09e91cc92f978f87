from __future__ import annotations

import numpy as np

from zoo.perturbations.base import Perturbation, image_copy, is_switched_on


class MonochromeInversion(Perturbation):
    """Grey levels reversed within the image's range: value -> min + max - value.

    The image's own minimum and maximum stand in for the stored range of the pixel data,
    so the darkest pixel becomes the brightest and vice versa; applying it twice undoes it.
    """

    key = "monochrome-inversion"
    title = "MONOCHROME1 read as MONOCHROME2"
    explanation = (
        "DICOM says how to turn stored numbers into grey with Photometric Interpretation: "
        "MONOCHROME2 means the highest value is white, MONOCHROME1 that it is black, as many "
        "radiography systems store images so bone looks white on film. Software that ignores "
        "the attribute shows a MONOCHROME1 radiograph as a negative: lungs white, bone dark. "
        "A radiologist sees at once that it is inverted; a model that has only seen one "
        "polarity reads every intensity backwards. Here the grey levels are inverted within "
        "the image's range (severity 1) or left alone (0)."
    )
    severity_unit = "inverted (0 = no, 1 = yes)"
    severity_min = 0.0
    severity_max = 1.0

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if not is_switched_on(severity):
            return image_copy(image)
        low, high = float(image.min()), float(image.max())
        return (low + high - image.astype(np.float64)).astype(np.float32)
