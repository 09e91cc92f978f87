from __future__ import annotations

import io

import numpy as np
from PIL import Image

from zoo.perturbations.base import Perturbation, image_copy


def to_stored_integers(image: np.ndarray, *, bits: int) -> tuple[np.ndarray, float, float]:
    """The image as unsigned `bits`-bit integers, and the (offset, step) that undo it.

    An integer-valued image whose range fits is only shifted (offset = its minimum, step 1),
    so a lossless codec returns it exactly, as with DICOM stored values; anything else is
    scaled linearly onto the full integer range.
    """
    low, high = float(image.min()), float(image.max())
    top = 2**bits - 1
    if np.all(image == np.round(image)) and high - low <= top:
        return (image - low).astype(np.uint16 if bits > 8 else np.uint8), low, 1.0
    step = (high - low) / top if high > low else 1.0
    stored = np.clip(np.round((image - low) / step), 0, top)
    return stored.astype(np.uint16 if bits > 8 else np.uint8), low, step


def jpeg_roundtrip(image: np.ndarray, *, quality: int) -> np.ndarray:
    """Encode one 2-D slice with baseline 8-bit JPEG (libjpeg via Pillow) and decode it."""
    stored, offset, step = to_stored_integers(image, bits=8)
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, format="JPEG", quality=int(quality))
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float64)
    return (decoded * step + offset).astype(np.float32)


class JpegCompression(Perturbation):
    """Baseline JPEG at IJG quality 100 - severity; 0 returns the original, not compressed.

    Pillow's JPEG is 8-bit, so the slice is first scaled onto 256 grey levels, as an export
    to a teaching file, a web viewer or a public data set is; a 4000-HU CT range then has
    steps of ~16 HU before any compression. Volumes are compressed slice by slice.
    """

    key = "jpeg"
    title = "Lossy JPEG compression"
    explanation = (
        "JPEG divides the image into 8 x 8 pixel blocks, describes each by its spatial "
        "frequencies (discrete cosine transform) and stores the high frequencies coarsely: "
        "the lower the quality setting, the coarser. Fine texture and low-contrast detail "
        "go first, and at strong compression the block grid itself shows, with ringing "
        "beside edges. Radiology accepts modest lossy compression for some uses, but images "
        "exported to JPEG for teaching files, web viewers and many public AI data sets are "
        "also reduced to 256 grey levels. Models can be sensitive to these losses, and to "
        "the block artefacts a human reader ignores. Here each slice is exported to 8-bit "
        "baseline JPEG with a real codec at quality 100 minus the severity and read back."
    )
    severity_unit = "compression level (100 − JPEG quality)"
    severity_min = 0.0
    severity_max = 99.0

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        quality = int(np.clip(round(100.0 - severity), 1, 100))
        if image.ndim == 3:
            return np.stack([jpeg_roundtrip(s, quality=quality) for s in image])
        return jpeg_roundtrip(image, quality=quality)
