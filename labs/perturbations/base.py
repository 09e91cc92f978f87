"""The one interface every perturbation implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

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
