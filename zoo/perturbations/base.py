"""The one interface every perturbation implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np


class Perturbation(ABC):
    """A physically or clinically motivated change to an image in modality units.

    `severity` is expressed in the unit a radiologist would use (`severity_unit`), bounded by
    `severity_min`..`severity_max`; 0 at `severity_min` leaves the image unchanged.
    """

    key: str
    title: str
    explanation: str
    severity_unit: str
    severity_min: float
    severity_max: float
    modalities: frozenset[str] = frozenset({"CT", "MR", "CR", "DX", "US"})

    @abstractmethod
    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        """Return a new image (the input is never modified)."""

    def at_pixel_spacing(self, spacing_mm: float | None) -> Perturbation:
        """This perturbation measured on pixels of `spacing_mm` (mm). Most are defined in
        pixels or intensities and return themselves; the sinogram-domain CT ones, whose
        path lengths set attenuation and noise, return a copy that uses it."""
        return self


class VolumeRequired(ValueError):
    """The perturbation is inherently 3-D and was given a single 2-D slice."""


def image_copy(image: np.ndarray) -> np.ndarray:
    """A float32 copy of the image: what every perturbation returns at `severity_min`."""
    return np.array(image, dtype=np.float32, copy=True)


def is_switched_on(severity: float) -> bool:
    """For on/off perturbations (severity 0 or 1): half-way and above counts as on."""
    return severity >= 0.5


def for_each_slice(
    image: np.ndarray, *, seed: int, apply_slice: Callable[[np.ndarray, int], np.ndarray]
) -> np.ndarray:
    """Apply a 2-D operation to a slice, or to every slice of a (slices, rows, cols) volume.

    Slice k of a volume gets seed + k, so its noise differs from its neighbours' and the
    whole volume is still reproducible from one seed.
    """
    if image.ndim == 2:
        return apply_slice(image, seed)
    if image.ndim == 3:
        return np.stack([apply_slice(one, seed + k) for k, one in enumerate(image)])
    raise ValueError(f"Expected (rows, cols) or (slices, rows, cols); got shape {image.shape}.")


class SlicewisePerturbation(Perturbation):
    """A perturbation defined on one 2-D slice; volumes are done slice by slice.

    At `severity_min` the image comes back unchanged (`image_copy`); otherwise
    `apply_slice` runs on the slice, or on every slice of a volume with seed + k
    (`for_each_slice`).
    """

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        return for_each_slice(
            image,
            seed=seed,
            apply_slice=lambda one, slice_seed: self.apply_slice(
                one, severity=severity, seed=slice_seed
            ),
        )

    @abstractmethod
    def apply_slice(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        """Return the perturbed float32 copy of one (rows, cols) slice."""
