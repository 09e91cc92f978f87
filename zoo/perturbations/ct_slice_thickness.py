from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from zoo.perturbations.base import Perturbation, VolumeRequired, image_copy


def slab_weights(slices_per_slab: float) -> np.ndarray:
    """Boxcar of width `slices_per_slab` slices: each slice weighs by its overlap with it.

    A fractional width gives the end slices partial weight, so the thickness can grow
    continuously; the weights sum to one.
    """
    half = slices_per_slab / 2.0
    reach = math.ceil(half - 0.5)
    offsets = np.arange(-reach, reach + 1)
    overlap = np.clip(np.minimum(offsets + 0.5, half) - np.maximum(offsets - 0.5, -half), 0, 1)
    return overlap / overlap.sum()


class CtSliceThickness(Perturbation):
    """Thicker reconstructed slices: each slice becomes the mean of a slab around it.

    Inherently 3-D: it needs a volume (slices, rows, cols). Through-plane partial volume
    cannot be invented from one slice, so a 2-D slice is refused (VolumeRequired) at any
    severity above one slice, where it is returned unchanged. The output keeps the input's
    slice positions (overlapping thick slices), so it lines up with the original.
    """

    key = "ct-slice-thickness"
    title = "Thicker slices (slab averaging)"
    explanation = (
        "Each CT slice is an average over its thickness along the patient's long axis. "
        "Reconstructing at 5 mm instead of 1 mm averages five times as much tissue into each "
        "pixel: noise falls, but a small nodule, a thin vessel or a fracture line that fills "
        "only part of the slab is diluted by the tissue around it (through-plane partial "
        "volume), loses contrast and may vanish, and a sloping edge becomes a blurred step. "
        "Models trained on thin slices can miss small findings on thick ones. Here every "
        "slice of a volume is replaced by the mean of the slab of neighbouring slices "
        "centred on it; this needs the whole series, not a single slice."
    )
    severity_unit = "slab thickness (acquired slices averaged)"
    severity_min = 1.0
    severity_max = 10.0
    modalities = frozenset({"CT", "MR"})

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        if image.ndim != 3:
            raise VolumeRequired(
                "Thicker slices need the whole series (slices, rows, cols); one slice has no "
                "neighbours to average with."
            )
        weights = slab_weights(float(severity))
        return ndimage.convolve1d(image.astype(np.float64), weights, axis=0, mode="nearest").astype(
            np.float32
        )
