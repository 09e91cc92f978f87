from __future__ import annotations

import numpy as np

from zoo.perturbations.base import Perturbation, image_copy

# Relative signal of CSF, grey matter and white matter on a T2-weighted spin echo, scaled
# to the T1 white-matter signal: CSF brightest, grey above white (reversed from T1).
T2_SIGNAL_RELATIVE_TO_T1_WHITE_MATTER = (1.4, 0.75, 0.55)
BACKGROUND_FRACTION_OF_P99 = 0.1
KMEANS_ITERATIONS = 25


def tissue_class_centres(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Three intensity centres (dark -> bright) of the foreground, and the background level.

    A 1-D k-means on the foreground pixels: on a T1 brain these are CSF, grey, white matter.
    """
    background_level = BACKGROUND_FRACTION_OF_P99 * float(np.percentile(image, 99))
    foreground = image[image > background_level].astype(np.float64)
    if foreground.size < 3:
        foreground = image.ravel().astype(np.float64)
    centres = np.percentile(foreground, [20.0, 50.0, 80.0])
    for _ in range(KMEANS_ITERATIONS):
        nearest = np.argmin(np.abs(foreground[:, None] - centres[None, :]), axis=1)
        centres = np.array(
            [
                foreground[nearest == k].mean() if np.any(nearest == k) else centres[k]
                for k in range(3)
            ]
        )
    return np.sort(centres), background_level


def t2_like_remap(image: np.ndarray) -> np.ndarray:
    """T1 intensities remapped piecewise linearly so the tissue classes take T2 order."""
    centres, background_level = tissue_class_centres(image)
    targets = centres[-1] * np.array(T2_SIGNAL_RELATIVE_TO_T1_WHITE_MATTER)
    known = np.concatenate([[0.0, background_level], centres])
    mapped = np.concatenate([[0.0, background_level * targets[0] / centres[0]], targets])
    order = np.argsort(known)
    remapped = np.interp(image, known[order], mapped[order])
    # Beyond white matter (fat, enhancing tissue) keep the T1 slope above the last centre.
    above = image > centres[-1]
    remapped[above] = targets[-1] + (image[above] - centres[-1])
    return remapped


class MrContrastSwap(Perturbation):
    """An approximation of T2 contrast where the model expects T1: tissue classes remapped.

    Not a simulation of the physics: the T1 image is split into three intensity classes
    (CSF, grey and white matter on a brain) and each is moved to its typical T2-weighted
    brightness. Real PD and T2 images, with their own lesions, flow and fat signal, come
    from the PD series in the study library; this remapping shows the principle on any
    T1 slice. Severity blends linearly from the original (0 %) to the remapped image (100 %).
    """

    key = "mr-contrast-swap"
    title = "A different contrast (T2-like where T1 is expected)"
    explanation = (
        "MR has no fixed intensity scale: the same tissue is dark on one sequence and bright "
        "on another, depending on its T1 and T2 relaxation times and on the sequence's "
        "repetition and echo times. On a T1-weighted brain, CSF is dark and white matter "
        "brighter than grey; on a T2-weighted one, CSF is brightest and grey matter brighter "
        "than white. A model trained on T1 images that is fed a T2 or proton-density series "
        "(a mislabelled series, a protocol change) sees familiar shapes with the wrong "
        "brightness. This is an approximation: the slice's tissue classes are found from "
        "their intensities and remapped to a T2-like order, blended in by the chosen amount; "
        "the real change of contrast is shown by the PD series in the study library."
    )
    severity_unit = "T2-like contrast blended in (%)"
    severity_min = 0.0
    severity_max = 100.0
    modalities = frozenset({"MR"})

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        weight = min(severity, 100.0) / 100.0
        remapped = t2_like_remap(image.astype(np.float64))
        return ((1.0 - weight) * image + weight * remapped).astype(np.float32)
