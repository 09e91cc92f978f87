from __future__ import annotations

import numpy as np

from zoo.perturbations.base import Perturbation


class GaussianNoise(Perturbation):
    key = "gaussian-noise"
    title = "Gaussian noise"
    explanation = (
        "Every detector adds random fluctuation to the signal it measures. In CT, fewer "
        "photons (a lower tube current, a larger patient) mean relatively more quantum noise "
        "in each pixel; in MR, thermal noise from the patient and the coil does the same. "
        "Adding zero-mean Gaussian noise of standard deviation sigma (in HU on CT) is the "
        "simplest model of it: the mean of a region is unchanged, but each pixel's value "
        "wanders, and a model that reads single pixel values starts to misclassify tissue. "
        "It is a simplification twice over: CT quantum noise arises in the projections and "
        "is streaky and strongest along long paths (see low-dose CT noise), and an MR "
        "magnitude image carries Rician noise, which lifts dark regions into a noise floor "
        "(see MR thermal noise); independent Gaussian noise is neither."
    )
    severity_unit = "σ (HU)"
    severity_min = 0.0
    severity_max = 300.0

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        noise = rng.normal(0.0, severity, size=image.shape) if severity > 0 else 0.0
        return (image + noise).astype(np.float32)
