from __future__ import annotations

import numpy as np

from zoo.perturbations.base import SlicewisePerturbation
from zoo.perturbations.mr_kspace import (
    centred_frequencies,
    image_from_kspace,
    kspace_from_image,
)

# Periodic motion (breathing, pulsation) repeats every this many phase-encode lines; the
# ghosts then sit N / period pixels apart along the phase-encode axis.
MOTION_PERIOD_LINES = 8


class MrMotionGhosting(SlicewisePerturbation):
    """Periodic translation along phase-encode during acquisition, applied in k-space.

    Phase-encode line ky, acquired at time t(ky) (sequential order), sees the object shifted
    by d(t) = A sin(2 pi t / T + phi) pixels along the phase-encode axis; by the Fourier
    shift theorem the line is multiplied by exp(-2 pi i ky d(t) / N). The modulation of
    k-space along ky with period T produces copies (ghosts) of the moving object at
    multiples of N / T pixels along the phase-encode axis only; the readout is untouched
    because each line is read in a few milliseconds.
    """

    key = "mr-motion-ghosting"
    title = "Motion ghosting"
    explanation = (
        "An MR image is assembled from many phase-encode lines of k-space, one per "
        "repetition, over seconds to minutes, while each line itself is read out in a few "
        "milliseconds. If the patient moves between lines (breathing, swallowing, pulsating "
        "vessels, a restless head) the lines disagree about where the anatomy is. Those "
        "inconsistencies are phase errors along the phase-encode direction, and the Fourier "
        "transform turns them into ghosts: faint copies of the moving structure repeated "
        "along the phase-encode axis, never along the readout axis. Periodic motion gives "
        "discrete, evenly spaced ghosts; random motion smears them. Here the object is "
        "moved periodically along phase-encode during acquisition, line by line in k-space."
    )
    severity_unit = "motion amplitude (pixels)"
    severity_min = 0.0
    severity_max = 10.0
    modalities = frozenset({"MR"})

    def apply_slice(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        lines = image.shape[0]
        ky = centred_frequencies(lines)
        acquisition_order = np.arange(lines)
        start_phase = np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi)
        displacement = severity * np.sin(
            2.0 * np.pi * acquisition_order / MOTION_PERIOD_LINES + start_phase
        )
        line_phase = np.exp(-2j * np.pi * ky * displacement / lines)
        kspace = kspace_from_image(image) * line_phase[:, None]
        return image_from_kspace(kspace).astype(np.float32)
