from __future__ import annotations

import numpy as np

from zoo.perturbations.base import Perturbation, image_copy

# Highest spatial frequency of the field, in cycles across the image: a coil's sensitivity
# and B1 inhomogeneity vary over tens of centimetres, never pixel to pixel.
FIELD_MAX_CYCLES = 1.5
FIELD_TERMS = 4


def smooth_field(shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
    """A random smooth field of zero mean and unit peak-to-peak over the last two axes.

    A sum of a few low-order cosines with random phases and orientations; its spectrum holds
    no frequency above FIELD_MAX_CYCLES per image.
    """
    rows, cols = shape[-2], shape[-1]
    y = np.linspace(0.0, 1.0, rows)[:, None]
    x = np.linspace(0.0, 1.0, cols)[None, :]
    field = np.zeros((rows, cols))
    for _ in range(FIELD_TERMS):
        cycles_y, cycles_x = rng.uniform(-FIELD_MAX_CYCLES, FIELD_MAX_CYCLES, size=2)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        field += rng.uniform(0.5, 1.0) * np.cos(2.0 * np.pi * (cycles_y * y + cycles_x * x) + phase)
    field -= field.mean()
    return field / (field.max() - field.min())


def bias_field(shape: tuple[int, ...], *, peak_to_peak_percent: float, seed: int) -> np.ndarray:
    """The multiplicative field: 1 on average, varying by `peak_to_peak_percent` in all."""
    return 1.0 + (peak_to_peak_percent / 100.0) * smooth_field(
        shape, rng=np.random.default_rng(seed)
    )


class MrBiasField(Perturbation):
    """Intensity non-uniformity: the image multiplied by a smooth random field (same per slice)."""

    key = "mr-bias-field"
    title = "Bias field (intensity non-uniformity)"
    explanation = (
        "The signal an MR scanner records depends on where the tissue sits: close to a "
        "surface coil element it is bright, far from it dim, and at 3 T the radiofrequency "
        "field itself is uneven across the body (dielectric effects). The result is a slow, "
        "smooth shading across the image that multiplies every tissue's intensity by the "
        "same local factor: white matter at the top of the head may be brighter than at the "
        "bottom, and a threshold or a model that reads absolute intensity misclassifies "
        "tissue. Scanners and pipelines correct it (prescan normalisation, N4), not always "
        "fully. Here the image is multiplied by a random smooth field with the chosen "
        "peak-to-peak variation."
    )
    severity_unit = "peak-to-peak intensity variation (%)"
    severity_min = 0.0
    severity_max = 80.0
    modalities = frozenset({"MR"})

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        field = bias_field(image.shape, peak_to_peak_percent=severity, seed=seed)
        return (image * field).astype(np.float32)
