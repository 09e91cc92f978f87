from __future__ import annotations

import numpy as np

from zoo.perturbations.base import SlicewisePerturbation

# The image's bright end, for scaling sigma: MR intensities have no absolute unit, so noise
# is given relative to the signal of the brightest tissue (the 99th percentile ignores a
# few hot pixels such as fat at a coil element).
REFERENCE_PERCENTILE = 99.0


def rician_magnitude(signal: np.ndarray, *, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """|signal + n_real + i n_imag| with both channels N(0, sigma^2): the magnitude of a
    complex measurement. The magnitude's distribution does not depend on the signal's
    phase, so the signal is put on the real axis."""
    real = signal + rng.normal(0.0, sigma, size=signal.shape)
    imaginary = rng.normal(0.0, sigma, size=signal.shape)
    return np.hypot(real, imaginary)


class MrRicianNoise(SlicewisePerturbation):
    """Thermal noise on the complex MR signal, shown as the magnitude image (Rician)."""

    key = "mr-rician-noise"
    title = "MR thermal noise (Rician, magnitude image)"
    explanation = (
        "MR noise is thermal noise from the patient's tissue and the receiver coil, added "
        "with equal strength to the real and the imaginary channel of the complex signal. "
        "Radiologists look at the magnitude of that complex value, and the magnitude of a "
        "signal plus complex Gaussian noise follows a Rician distribution, not a Gaussian "
        "one: in bright tissue it is close to Gaussian, but where the true signal is low "
        "(air, cortical bone, CSF on a T1 image, the background) the magnitude can never be "
        "negative, so noise raises the mean into a noise floor of about 1.25 sigma and the "
        "dark regions lose contrast. Adding zero-mean Gaussian noise to a magnitude image "
        "misses this bias. Here the stored magnitude is taken as the signal, complex noise "
        "with the chosen sigma (as a percentage of the brightest tissue) is added, and the "
        "magnitude is kept."
    )
    severity_unit = "σ per channel (% of the brightest tissue's signal)"
    severity_min = 0.0
    severity_max = 40.0
    modalities = frozenset({"MR"})

    def apply_slice(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        signal = np.clip(image.astype(np.float64), 0.0, None)
        reference = float(np.percentile(signal, REFERENCE_PERCENTILE)) or 1.0
        sigma = severity / 100.0 * reference
        magnitude = rician_magnitude(signal, sigma=sigma, rng=np.random.default_rng(seed))
        return magnitude.astype(np.float32)
