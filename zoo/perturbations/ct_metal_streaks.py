from __future__ import annotations

import numpy as np

from zoo.perturbations.base import SlicewisePerturbation
from zoo.perturbations.ct_low_dose import FULL_DOSE_PHOTONS_PER_RAY, noisy_line_integrals
from zoo.perturbations.ct_projection import (
    HU_STORED_MAX,
    HU_STORED_MIN,
    ProjectionGeometry,
    filtered_back_projection,
    hu_to_mu,
    mu_to_hu,
    radon,
    reconstruction_circle,
    view_angles_deg,
)

# Stainless steel (mostly iron, 7.9 g/cm^3) at ~70 keV, the effective energy of a 120 kVp
# beam. NIST's table for iron gives mu/rho = 1.205 cm^2/g at 60 keV and 0.595 at 80 keV;
# interpolated log-log, 0.83 cm^2/g at 70 keV; x 7.9 g/cm^3 = 6.5 /cm = 0.65 /mm.
STEEL_MASS_ATTENUATION_CM2_PER_G = 0.83
STEEL_DENSITY_G_PER_CM3 = 7.9
MU_STEEL_PER_MM = STEEL_MASS_ATTENUATION_CM2_PER_G * STEEL_DENSITY_G_PER_CM3 / 10.0
# Beam hardening through metal, p_measured = ln(1 + k p) / k: concave, so long paths
# through metal read as less attenuating than they are (the dark streaks).
METAL_HARDENING = 0.15
BODY_THRESHOLD_HU = -500.0


def metal_insert_mask(image: np.ndarray, *, diameter_px: float) -> np.ndarray:
    """Two discs placed like bilateral hip prostheses: left and right of the body centre."""
    body = image > BODY_THRESHOLD_HU
    if body.sum() == 0:
        body = np.ones_like(body)
    rows, cols = np.nonzero(body & reconstruction_circle(image.shape))
    centre_row, centre_col = rows.mean(), cols.mean()
    half_width = 0.25 * (cols.max() - cols.min())
    y, x = np.ogrid[: image.shape[0], : image.shape[1]]
    mask = np.zeros(image.shape, dtype=bool)
    for side in (-1.0, 1.0):
        col = centre_col + side * half_width
        mask |= (y - centre_row) ** 2 + (x - col) ** 2 <= (diameter_px / 2.0) ** 2
    return mask


class CtMetalStreaks(ProjectionGeometry, SlicewisePerturbation):
    """Two steel inserts added in the sinogram: photon starvation and beam hardening."""

    key = "ct-metal-streaks"
    title = "Metal streaks"
    explanation = (
        "Metal (a hip prosthesis, dental fillings, surgical clips) stops most of the x-ray "
        "beam. Rays that pass through it reach the detector with very few photons, so their "
        "readings are dominated by noise (photon starvation), and the photons that do get "
        "through are the high-energy ones, so the metal looks less attenuating along long "
        "paths than along short ones (beam hardening). Filtered back-projection spreads each "
        "of these inconsistent rays across the whole slice as a straight line: bright and "
        "dark streaks radiating from the metal, and a dark band between two metal objects. "
        "Here two steel inserts are placed left and right of the body centre, projected with "
        "the anatomy, measured with photon noise and a hardening non-linearity, and "
        "reconstructed; the metal itself saturates at the top of the stored range."
    )
    severity_unit = "metal insert diameter (mm)"
    severity_min = 0.0
    severity_max = 40.0
    modalities = frozenset({"CT"})

    def apply_slice(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        mm = self.spacing_for(image.shape)
        mask = metal_insert_mask(image, diameter_px=severity / mm)
        angles = view_angles_deg()
        mu_body = hu_to_mu(image)
        body = radon(mu_body * mm, angles_deg=angles)
        metal = radon(np.where(mask, MU_STEEL_PER_MM - mu_body, 0.0) * mm, angles_deg=angles)
        hardened_metal = np.log1p(METAL_HARDENING * metal) / METAL_HARDENING
        expected = body + hardened_metal
        measured = noisy_line_integrals(
            expected, incident_photons=FULL_DOSE_PHOTONS_PER_RAY, rng=np.random.default_rng(seed)
        )
        # Rays that miss the metal are already measured, with their noise, in the slice;
        # only the rays through metal are re-measured (with its photon starvation).
        through_metal = metal > 0
        change = hardened_metal + np.where(through_metal, measured - expected, 0.0)
        change_mu = filtered_back_projection(change, angles_deg=angles, shape=image.shape)
        changed = image + mu_to_hu(change_mu / mm)
        inside = reconstruction_circle(image.shape)
        result = np.where(inside, np.clip(changed, HU_STORED_MIN, HU_STORED_MAX), image)
        return result.astype(np.float32)
