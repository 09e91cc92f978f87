"""Reconstruction kernel: smoothing and sharpening by their modulation transfer function.

Two perturbations share this module because they are the two directions of one choice on
the scanner: a soft-tissue kernel (smooth) or a bone/lung kernel (sharp). Both multiply the
image's spectrum by a radial MTF ratio H(f), f in cycles per pixel (Nyquist = 0.5):
- smooth: H(f) = exp(-(pi sigma f)^2 * 2), a Gaussian point-spread function of FWHM w
  pixels (sigma = w / 2.355): MTF50 falls as 1 / w;
- sharp: H(f) = 1 + (g - 1) (f / 0.5)^2, an unsharp mask in frequency that leaves the mean
  (f = 0) alone and multiplies the Nyquist frequency by the gain g.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zoo.perturbations.base import Perturbation, image_copy

EDGE_PADDING_PX = 16
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def radial_frequency(shape: tuple[int, int]) -> np.ndarray:
    """|f| in cycles per pixel on the rfft2 grid of an image of `shape`."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    return np.sqrt(fy**2 + fx**2)


def mtf_apply(image: np.ndarray, transfer: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Multiply each slice's spectrum by `transfer(|f|)`; edges padded by reflection.

    The padding keeps the FFT's wrap-around from joining the left edge to the right one.
    """
    width = min(EDGE_PADDING_PX, *(n - 1 for n in image.shape[-2:]))
    pad = [(0, 0)] * (image.ndim - 2) + [(width, width)] * 2
    padded = np.pad(image.astype(np.float64), pad, mode="reflect")
    gain = transfer(radial_frequency(padded.shape[-2:]))
    filtered = np.fft.irfft2(np.fft.rfft2(padded) * gain, s=padded.shape[-2:])
    rows, cols = padded.shape[-2:]
    inner = (Ellipsis, slice(width, rows - width), slice(width, cols - width))
    return filtered[inner].astype(np.float32)


class CtSmoothKernel(Perturbation):
    key = "ct-kernel-smooth"
    title = "Smoother reconstruction kernel"
    explanation = (
        "Filtered back-projection lets the operator choose a kernel: a smooth (soft-tissue) "
        "kernel suppresses the high spatial frequencies where noise lives, a sharp (bone, "
        "lung) kernel boosts them to show fine detail. The choice is a trade between noise "
        "and resolution, described by the modulation transfer function (MTF): how much "
        "contrast survives at each spatial frequency. A smoother kernel lowers the MTF at "
        "high frequencies: edges of bone, small vessels and nodules blur, noise looks "
        "blotchy, and a model trained on sharp-kernel images sees different textures. Here "
        "the spectrum is multiplied by a Gaussian MTF whose point-spread function has the "
        "chosen full width at half maximum."
    )
    severity_unit = "added blur, FWHM (pixels)"
    severity_min = 0.0
    severity_max = 6.0
    modalities = frozenset({"CT"})

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        sigma = severity / FWHM_PER_SIGMA
        return mtf_apply(image, lambda f: np.exp(-2.0 * (np.pi * sigma * f) ** 2))


class CtSharpKernel(Perturbation):
    key = "ct-kernel-sharp"
    title = "Sharper reconstruction kernel"
    explanation = (
        "Filtered back-projection lets the operator choose a kernel: a sharp (bone, lung) "
        "kernel raises the modulation transfer function (MTF) at high spatial frequencies so "
        "trabeculae, fissures and small airways stand out, at the price of much more, and "
        "finer-grained, noise, and of overshoot (a dark rim) along edges. A model trained on "
        "soft-tissue kernels reads this texture as something else. Here the spectrum is "
        "multiplied by an MTF ratio that rises with the square of spatial frequency, leaving "
        "the mean unchanged and multiplying the contrast at the Nyquist frequency by the "
        "chosen gain: an unsharp mask applied in the frequency domain."
    )
    severity_unit = "contrast gain at the Nyquist frequency (×)"
    severity_min = 1.0
    severity_max = 5.0
    modalities = frozenset({"CT"})

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        return mtf_apply(image, lambda f: 1.0 + (severity - 1.0) * np.minimum(f / 0.5, 1.0) ** 2)
