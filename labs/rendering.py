"""Pictures of lab results: windowed greyscale and label overlays as PNG bytes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# Colour per tissue class, chosen to stay distinguishable for the common colour-vision
# deficiencies (Okabe-Ito palette); class 0 (air) stays transparent.
LABEL_COLOURS = np.array(
    [[0, 0, 0], [230, 159, 0], [86, 180, 233], [240, 228, 66], [204, 121, 167]],
    dtype=np.float32,
)


def window_to_grey(image: np.ndarray, *, centre: float, width: float) -> np.ndarray:
    """Linear VOI window (PS3.3 C.11.2.1.2 without the 0.5 offsets): uint8 greyscale."""
    low = centre - width / 2.0
    scaled = (image - low) / width
    return (np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def png_bytes(pixels: np.ndarray, *, upscale: int = 1) -> bytes:
    picture = Image.fromarray(pixels)
    if upscale > 1:
        picture = picture.resize(
            (picture.width * upscale, picture.height * upscale), Image.Resampling.NEAREST
        )
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def labels_overlay(grey: np.ndarray, labels: np.ndarray, *, opacity: float = 0.45) -> np.ndarray:
    """Blend class colours over a greyscale image; label 0 is left unpainted."""
    rgb = np.repeat(grey[..., None].astype(np.float32), 3, axis=2)
    colours = LABEL_COLOURS[np.clip(labels, 0, len(LABEL_COLOURS) - 1)]
    painted = labels > 0
    rgb[painted] = (1 - opacity) * rgb[painted] + opacity * colours[painted]
    return rgb.astype(np.uint8)
