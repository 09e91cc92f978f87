from __future__ import annotations

import numpy as np

from zoo.perturbations.base import SlicewisePerturbation
from zoo.perturbations.mr_kspace import image_from_kspace, kspace_from_image


def kept_band(length: int, kept_fraction: float) -> slice:
    """The central lines of centred k-space that a smaller acquisition matrix samples."""
    kept = max(2, round(length * kept_fraction))
    start = length // 2 - kept // 2
    return slice(start, start + kept)


class MrGibbsRinging(SlicewisePerturbation):
    """A smaller acquired matrix: outer k-space set to zero (rectangular window), zero-filled.

    Truncating the Fourier series of an edge overshoots by ~9 % of the step on each side
    (the Wilbraham-Gibbs constant, 0.0895), with ripples at the spacing of the acquired
    pixel, whatever the matrix: fewer lines only make the ripples wider.
    """

    key = "mr-gibbs-ringing"
    title = "Gibbs (truncation) ringing"
    explanation = (
        "MR samples a finite part of k-space: the acquisition matrix. The sharp edge between "
        "two tissues needs infinitely high spatial frequencies to be drawn exactly; cut them "
        "off and the reconstruction overshoots and undershoots beside the edge, by about 9 % "
        "of the step, in parallel ripples that fade with distance (Gibbs or truncation "
        "ringing). With a coarse matrix the ripples are wide enough to be seen as lines "
        "beside the skull, the cord in the spine (mimicking a syrinx) or the meniscus "
        "(mimicking a tear). Here the outer part of k-space is discarded in both directions, "
        "as a smaller acquisition matrix does, and the image is zero-filled back to its size."
    )
    severity_unit = "outer k-space discarded (% of the matrix)"
    severity_min = 0.0
    severity_max = 90.0
    modalities = frozenset({"MR"})

    def apply_slice(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        kept_fraction = 1.0 - severity / 100.0
        kspace = kspace_from_image(image)
        truncated = np.zeros_like(kspace)
        rows = kept_band(image.shape[0], kept_fraction)
        cols = kept_band(image.shape[1], kept_fraction)
        truncated[rows, cols] = kspace[rows, cols]
        return image_from_kspace(truncated).astype(np.float32)
