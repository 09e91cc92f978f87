from __future__ import annotations

import numpy as np
from scipy import ndimage

from zoo.perturbations.base import Perturbation, image_copy


def _pixel_centres(length: int, *, step: float) -> np.ndarray:
    """Input-pixel coordinates of the centres of pixels `step` input pixels wide."""
    count = max(1, round(length / step))
    return (np.arange(count) + 0.5) * (length / count) - 0.5


def downsample_and_restore(image: np.ndarray, *, factor: float) -> np.ndarray:
    """A 2-D slice acquired on a `factor`-times coarser grid, shown back on its own grid.

    Anti-aliasing low-pass (Gaussian, sigma = (factor - 1) / 2 as scikit-image's
    `rescale` uses), sampling at the coarse pixel centres, then cubic interpolation back
    to the original pixel centres, as a viewer magnifies a small matrix.
    """
    source = ndimage.gaussian_filter(image.astype(np.float64), sigma=(factor - 1.0) / 2.0)
    rows = _pixel_centres(image.shape[0], step=factor)
    cols = _pixel_centres(image.shape[1], step=factor)
    coarse = ndimage.map_coordinates(
        source, np.meshgrid(rows, cols, indexing="ij"), order=1, mode="nearest"
    )
    back_rows = (np.arange(image.shape[0]) + 0.5) * (rows.size / image.shape[0]) - 0.5
    back_cols = (np.arange(image.shape[1]) + 0.5) * (cols.size / image.shape[1]) - 0.5
    restored = ndimage.map_coordinates(
        coarse, np.meshgrid(back_rows, back_cols, indexing="ij"), order=3, mode="nearest"
    )
    return restored.astype(np.float32)


class Downsampling(Perturbation):
    key = "downsampling"
    title = "Downsampling (lower matrix)"
    explanation = (
        "Spatial resolution is set by the pixel size: a smaller acquisition or storage "
        "matrix, a reduced-size copy kept for a web viewer, or a data set shrunk to fit a "
        "model's input all throw away the fine detail that does not fit the coarser grid. "
        "Magnifying the image back to its original size does not bring that detail back: "
        "edges blur, thin structures and small calcifications fade into their surroundings, "
        "and fine texture (trabecular bone, interstitial lung pattern) disappears. Here each "
        "slice is low-pass filtered and resampled onto a grid coarser by the chosen factor, "
        "then interpolated back onto its original pixels."
    )
    severity_unit = "downsampling factor (×)"
    severity_min = 1.0
    severity_max = 8.0

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        if image.ndim == 3:
            return np.stack([downsample_and_restore(s, factor=severity) for s in image])
        return downsample_and_restore(image, factor=severity)
