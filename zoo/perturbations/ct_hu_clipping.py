from __future__ import annotations

import numpy as np

from zoo.perturbations.base import Perturbation, image_copy
from zoo.perturbations.ct_projection import HU_STORED_MAX, HU_STORED_MIN

# At full severity only a soft-tissue window survives: W 400 / L 40 -> [-160, 240] HU.
NARROWEST_WINDOW_HU = (-160.0, 240.0)


def stored_range_hu(severity_percent: float) -> tuple[float, float]:
    """The HU range an export keeps: the 12-bit range narrowed linearly towards W400/L40."""
    fraction = float(np.clip(severity_percent / 100.0, 0.0, 1.0))
    low = HU_STORED_MIN + fraction * (NARROWEST_WINDOW_HU[0] - HU_STORED_MIN)
    high = HU_STORED_MAX + fraction * (NARROWEST_WINDOW_HU[1] - HU_STORED_MAX)
    return low, high


class CtHuClipping(Perturbation):
    """Values outside a narrowed window are clipped to its bounds, as a bad export does."""

    key = "ct-hu-clipping"
    title = "Wrong window / HU clipping"
    explanation = (
        "A CT slice holds about 4000 HU of information, but a display or an export often "
        "keeps only the window a reader looked at. When a workstation, a research export or "
        "a conversion to 8-bit images stores the windowed values instead of the original "
        "ones, everything below the window becomes the same black and everything above it "
        "the same white: lung detail, fat and air, bone and contrast collapse into two flat "
        "values, and a model that relies on those HU ranges loses them for good. Here the "
        "full 12-bit range is narrowed step by step towards a soft-tissue window "
        "(width 400, level 40) and values outside it are clipped to its edges."
    )
    severity_unit = "range narrowed towards a W400/L40 window (%)"
    severity_min = 0.0
    severity_max = 100.0
    modalities = frozenset({"CT"})

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        low, high = stored_range_hu(severity)
        return np.clip(image, low, high).astype(np.float32)
