from __future__ import annotations

import numpy as np

from zoo.perturbations.base import SlicewisePerturbation
from zoo.perturbations.ct_projection import (
    ProjectionGeometry,
    filtered_back_projection,
    hu_to_mu,
    mu_to_hu,
    radon,
    reconstruction_circle,
    view_angles_deg,
)

# Unattenuated photons per detector bin and view at the clinical (100 %) dose: an effective
# number, calibrated so that a 30 cm water cylinder at 0.7 mm pixels (512 matrix) carries
# ~12 HU of noise in its centre at full dose, as a routine 120 kVp abdomen does. It is
# larger than a real detector's count because `ct_projection` has 180 views instead of
# ~1000 and a sharp (Ram-Lak) filter. Coarser pixels average more photons, so a 128 matrix
# over the same field has ~4x less noise per pixel, as it would on a scanner.
FULL_DOSE_PHOTONS_PER_RAY = 2.5e7


def noisy_line_integrals(
    line_integrals: np.ndarray, *, incident_photons: float, rng: np.random.Generator
) -> np.ndarray:
    """Line integrals re-measured with Poisson photon statistics at `incident_photons`.

    Beer-Lambert: a ray of line integral p reaches the detector with I0 exp(-p) photons on
    average; the count is Poisson, and the scanner reports -ln(count / I0). Its variance is
    ~exp(p) / I0, so noise grows as dose falls and fastest along the most attenuating
    rays. A detector reading of zero photons is floored at one (photon starvation).
    """
    expected = incident_photons * np.exp(-line_integrals)
    counts = np.maximum(rng.poisson(expected), 1.0)
    return -np.log(counts / incident_photons)


class CtLowDose(ProjectionGeometry, SlicewisePerturbation):
    """Quantum noise of a reduced-dose scan, simulated in the sinogram (volumes slice by slice).

    The slice already carries the noise of its full-dose acquisition, so only the missing
    variance is added: measurement at a fraction d of the dose has variance exp(p)/(d I0),
    which is the full-dose exp(p)/I0 plus exp(p)/(I0 d / (1 - d)). The slice is projected
    (HU -> attenuation -> radon), re-measured at I0 d / (1 - d) photons, and only the
    reconstructed difference is added back, so the projector's own blur never shows.
    """

    key = "ct-low-dose"
    title = "Low-dose CT noise (sinogram domain)"
    explanation = (
        "CT noise is photon counting noise. Every detector reading is a count of the x-ray "
        "photons that crossed the patient, and counts fluctuate by their square root; the "
        "fewer photons, the larger the relative fluctuation. Lowering the tube current-time "
        "product (mAs) lowers the number of photons in proportion, so the noise variance of "
        "the image rises roughly as one over the dose: a quarter of the dose doubles the "
        "standard deviation in HU. Because the noise arises in the projections, it is worst "
        "along the most attenuating paths (through the shoulders or the pelvis) and the "
        "reconstruction turns it into streaky, correlated noise rather than independent pixel "
        "noise. Here the slice is projected to a sinogram, re-measured with Poisson photon "
        "counts at the reduced dose and reconstructed by filtered back-projection."
    )
    severity_unit = "dose reduction (% of the clinical dose removed)"
    severity_min = 0.0
    severity_max = 99.0
    modalities = frozenset({"CT"})

    def apply_slice(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        mm = self.spacing_for(image.shape)
        dose_fraction = 1.0 - min(severity, 99.9) / 100.0
        added_photons = FULL_DOSE_PHOTONS_PER_RAY * dose_fraction / (1.0 - dose_fraction)
        angles = view_angles_deg()
        line_integrals = radon(hu_to_mu(image) * mm, angles_deg=angles)
        noisy = noisy_line_integrals(
            line_integrals, incident_photons=added_photons, rng=np.random.default_rng(seed)
        )
        noise_mu = filtered_back_projection(
            noisy - line_integrals, angles_deg=angles, shape=image.shape
        )
        noise_hu = mu_to_hu(noise_mu / mm)
        inside = reconstruction_circle(image.shape)
        return np.where(inside, image + noise_hu, image).astype(np.float32)
