from __future__ import annotations

import numpy as np

from zoo.perturbations.base import Perturbation, image_copy


class Cropping(Perturbation):
    """The field of view cut by the same fraction on all four sides, filled with background.

    The image keeps its size and its pixel positions (so it lines up with the original);
    what was cut away is set to the image's minimum: air on CT, no signal on MR.
    """

    key = "cropping"
    title = "Cropping (field of view cut)"
    explanation = (
        "The field of view decides what is in the image at all. A reconstruction field set "
        "too small on CT, tight collimation or a detector too small for a large patient on "
        "a radiograph, or a crop applied on export leaves part of the anatomy outside: the "
        "costophrenic angles, the lung apices, the skin surface. A reader notices the cut "
        "edge; a model may silently miss the finding that is no longer there, or be "
        "confused by the unfamiliar straight border. Here the chosen percentage of the "
        "field is cut away, half from each side, in both directions, and replaced by "
        "background."
    )
    severity_unit = "field of view cut (% of width and height)"
    severity_min = 0.0
    severity_max = 60.0

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        rows, cols = image.shape[-2:]
        cut_rows = round(rows * severity / 200.0)
        cut_cols = round(cols * severity / 200.0)
        result = np.full(image.shape, float(image.min()), dtype=np.float32)
        inner = (Ellipsis, slice(cut_rows, rows - cut_rows), slice(cut_cols, cols - cut_cols))
        result[inner] = image[inner]
        return result
