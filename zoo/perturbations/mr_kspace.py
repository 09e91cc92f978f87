"""k-space, the MR raw data, for the perturbations that act on it. Not a perturbation.

A magnitude image stands in for the complex image the scanner reconstructs: its 2-D
Fourier transform is the k-space a Cartesian acquisition fills line by line, one
phase-encode line per repetition. Rows are the phase-encode axis (axis 0) and columns the
readout (frequency-encode) axis throughout, as on an axial brain acquired with
anterior-posterior phase encoding; pass the image transposed for the other direction.
Volumes are handled slice by slice (2-D Cartesian encoding of each slice).
"""

from __future__ import annotations

import numpy as np

PHASE_ENCODE_AXIS = 0


def kspace_from_image(image: np.ndarray) -> np.ndarray:
    """Centred k-space (DC in the middle) of a 2-D image."""
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(image.astype(np.float64))))


def image_from_kspace(kspace: np.ndarray) -> np.ndarray:
    """The magnitude image a scanner displays from centred k-space."""
    return np.abs(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace))))


def centred_frequencies(length: int) -> np.ndarray:
    """Integer k index of each line of centred k-space: -N/2 .. N/2 - 1."""
    return np.arange(length) - length // 2
