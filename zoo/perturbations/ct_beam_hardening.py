from __future__ import annotations

import numpy as np

from zoo.perturbations.base import SlicewisePerturbation
from zoo.perturbations.ct_projection import (
    MU_WATER_PER_MM,
    ProjectionGeometry,
    filtered_back_projection,
    hu_to_mu,
    mu_to_hu,
    radon,
    reconstruction_circle,
    view_angles_deg,
)

# Above this HU a pixel is read as water plus bone mineral (cortical bone ~ +1500 HU).
BONE_THRESHOLD_HU = 150.0
# Second-order deficits of a polychromatic 120 kVp beam at 100 % severity, in units of the
# line integral: dp = -(WATER * p_water^2 + BONE * p_bone^2 + CROSS * p_water * p_bone).
# At 100 % a 30 cm water cylinder reads ~40 HU low at its rim and ~90 HU low in its centre
# (cupping of ~50 HU), and two 5 cm discs of +1200 HU bone 16 cm apart are joined by a band
# ~50 HU darker than its surroundings: the order of what scanners show without correction.
# The coefficients are dimensionless, so these sizes do not depend on the matrix.
WATER_HARDENING = 0.012
BONE_HARDENING = 0.12
CROSS_HARDENING = 0.02


class CtBeamHardening(ProjectionGeometry, SlicewisePerturbation):
    """The residual of an imperfect water/bone beam-hardening correction, in the sinogram."""

    key = "ct-beam-hardening"
    title = "Beam hardening"
    explanation = (
        "The x-ray beam is not one energy but a spectrum. Soft photons are absorbed first, "
        "so the beam that has crossed a lot of tissue is 'harder' and is attenuated less per "
        "centimetre than the reconstruction assumes. Scanners correct for this with a "
        "polynomial calibrated on water; what the calibration misses shows in the image. "
        "Residual water hardening makes a uniform body darker in the centre than at the "
        "edge (cupping); bone hardens the beam much more than water, so rays that cross two "
        "dense structures (the petrous bones, both femoral heads, contrast-filled vessels) "
        "are under-read, and a dark band or streak joins them. Here the slice is split into "
        "water and bone components, projected, given the second-order deficit that a "
        "polychromatic beam produces, and reconstructed."
    )
    severity_unit = "beam-hardening correction left undone (%)"
    severity_min = 0.0
    severity_max = 100.0
    modalities = frozenset({"CT"})

    def apply_slice(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        mm = self.spacing_for(image.shape)
        angles = view_angles_deg()
        mu = hu_to_mu(image)
        bone_mu = np.where(
            image > BONE_THRESHOLD_HU, MU_WATER_PER_MM * (image - BONE_THRESHOLD_HU) / 1000.0, 0.0
        )
        p_water = radon((mu - bone_mu) * mm, angles_deg=angles)
        p_bone = radon(bone_mu * mm, angles_deg=angles)
        deficit = (
            WATER_HARDENING * p_water**2
            + BONE_HARDENING * p_bone**2
            + CROSS_HARDENING * p_water * p_bone
        )
        change_mu = filtered_back_projection(
            -(severity / 100.0) * deficit, angles_deg=angles, shape=image.shape
        )
        changed = image + mu_to_hu(change_mu / mm)
        return np.where(reconstruction_circle(image.shape), changed, image).astype(np.float32)
