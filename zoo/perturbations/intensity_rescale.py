from __future__ import annotations

import numpy as np

from zoo.perturbations.base import Perturbation, image_copy


class IntensityRescale(Perturbation):
    """A wrong Rescale Slope: values stretched by (1 + error) about the image's minimum.

    The minimum stands in for stored value 0 (where the intercept lands, -1024 HU on most
    CT), so it keeps its value and everything above it is stretched: HU' = m + (1 + e)(HU - m).
    """

    key = "intensity-rescale"
    title = "Wrong rescale slope"
    explanation = (
        "Scanners store integers; Rescale Slope and Rescale Intercept in the DICOM header "
        "turn them into Hounsfield units (or other physical units). If software drops, "
        "duplicates or misreads them (a slope of 1 applied to data stored with 0.5, a "
        "private scaling lost in conversion, a PET/MR scale factor ignored), every value is "
        "stretched or shrunk. The image can look normal once windowed, because the viewer's "
        "window adapts, but the numbers are wrong: water is no longer 0 HU, fat thresholds "
        "fail, and a model that reads HU mislabels tissue everywhere. Here the stored values "
        "are read with a slope that is too large by the chosen percentage."
    )
    severity_unit = "rescale slope error (%)"
    severity_min = 0.0
    severity_max = 100.0

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        anchor = float(image.min())
        slope = 1.0 + severity / 100.0
        return (anchor + slope * (image.astype(np.float64) - anchor)).astype(np.float32)
