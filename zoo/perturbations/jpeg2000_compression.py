from __future__ import annotations

import io

import numpy as np
from PIL import Image

from zoo.perturbations.base import Perturbation, image_copy
from zoo.perturbations.jpeg_compression import to_stored_integers


def jpeg2000_roundtrip(image: np.ndarray, *, compression_ratio: float) -> np.ndarray:
    """Encode one 2-D slice as 16-bit JPEG 2000 (OpenJPEG via Pillow) and decode it.

    A ratio of 1 uses the reversible 5/3 wavelet: lossless, exact for integer-valued images
    whose range fits 16 bits (as DICOM stored values do). Above 1, the irreversible 9/7
    wavelet is truncated to reach `compression_ratio` : 1 against the 16-bit raw size.
    """
    stored, offset, step = to_stored_integers(image, bits=16)
    buffer = io.BytesIO()
    options: dict = {"irreversible": False}
    if compression_ratio > 1.0:
        options = {
            "irreversible": True,
            "quality_mode": "rates",
            "quality_layers": [float(compression_ratio)],
        }
    Image.fromarray(stored).save(buffer, format="JPEG2000", **options)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float64)
    return (decoded * step + offset).astype(np.float32)


class Jpeg2000Compression(Perturbation):
    """JPEG 2000 at a compression ratio; 1:1 is the lossless mode (returned unchanged)."""

    key = "jpeg2000"
    title = "JPEG 2000 compression"
    explanation = (
        "JPEG 2000, which DICOM supports for storing and sending images, describes the image "
        "by a wavelet transform and, in its lossy mode, keeps only as many wavelet bits as "
        "the chosen compression ratio allows. It keeps the full 16-bit depth and has no "
        "block grid, so its losses look different from JPEG's: fine texture and noise are "
        "smoothed away first, small low-contrast structures fade, and edges acquire a soft "
        "halo. Professional guidelines quote acceptable ratios per modality (of the order of "
        "5:1 to 15:1 for CT); beyond them subtle findings are lost, and models may change "
        "their output well before a reader notices. Here each slice is encoded and decoded "
        "with a real codec at the chosen ratio; 1:1 is the lossless mode."
    )
    severity_unit = "compression ratio (n:1)"
    severity_min = 1.0
    severity_max = 200.0

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        # 1:1 is lossless: exact for integer stored values, and returned as is so that
        # non-integer inputs are exact too.
        if severity <= self.severity_min:
            return image_copy(image)
        if image.ndim == 3:
            return np.stack([jpeg2000_roundtrip(s, compression_ratio=severity) for s in image])
        return jpeg2000_roundtrip(image, compression_ratio=severity)
