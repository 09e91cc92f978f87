from __future__ import annotations

import numpy as np

from zoo.perturbations.base import SlicewisePerturbation
from zoo.perturbations.mr_kspace import PHASE_ENCODE_AXIS


def field_of_view_rows(length: int, *, reduction_percent: float) -> tuple[int, int]:
    """First row and row count of the reduced field of view, centred on the image."""
    kept = max(1, round(length * (1.0 - reduction_percent / 100.0)))
    return (length - kept) // 2, kept


class MrWraparound(SlicewisePerturbation):
    """Fold-over: signal from outside a smaller phase-encode FOV lands inside it.

    Sampling k-space with steps 1/FOV' instead of 1/FOV makes the reconstructed image
    periodic with period FOV' (Poisson summation): the displayed field is the sum of the
    object shifted by every multiple of FOV'. Implemented as that sum along the
    phase-encode axis (rows): row y goes to first + (y - first) mod FOV'. Rows outside the
    reduced field carry no image and are set to 0. Magnitudes are summed, an approximation
    of the complex sum (the phases of overlapping tissue are unknown in a magnitude image).
    """

    key = "mr-wraparound"
    title = "Wrap-around (aliasing)"
    explanation = (
        "MR encodes position along the phase-encode direction as a phase, and a phase is "
        "only known up to a full turn. If the field of view along that direction is smaller "
        "than the body part, tissue beyond one edge of the field produces the same phases as "
        "tissue just inside the opposite edge, and it is drawn there: the nose folds onto "
        "the back of the head, the arms onto the abdomen. It is the price of a small field "
        "of view chosen for resolution or speed, and is prevented by oversampling or "
        "saturation bands. Here the field of view along the phase-encode axis is reduced and "
        "everything outside it is folded back inside."
    )
    severity_unit = "phase-encode field of view reduced (%)"
    severity_min = 0.0
    severity_max = 50.0
    modalities = frozenset({"MR"})

    def apply_slice(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        length = image.shape[PHASE_ENCODE_AXIS]
        first, kept = field_of_view_rows(length, reduction_percent=severity)
        rows = np.arange(length)
        destination = first + (rows - first) % kept
        folded = np.zeros(image.shape, dtype=np.float64)
        np.add.at(folded, destination, image.astype(np.float64))
        return folded.astype(np.float32)
