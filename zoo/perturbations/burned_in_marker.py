from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zoo.perturbations.base import Perturbation, image_copy

MARGIN_FRACTION = 0.04


def text_mask(shape: tuple[int, int], *, text: str, height_px: int) -> np.ndarray:
    """Where `text`, `height_px` tall, covers the image when drawn in its top-left corner."""
    rows, cols = shape
    canvas = Image.new("L", (cols, rows), 0)
    font = ImageFont.load_default(size=max(4, height_px))
    margin = round(MARGIN_FRACTION * min(rows, cols))
    ImageDraw.Draw(canvas).text((margin, margin), text, fill=255, font=font)
    return np.asarray(canvas) > 127


class BurnedInMarker(Perturbation):
    """Text drawn into the pixels at the image's maximum, top-left (each slice of a volume).

    `text` defaults to "L", a radiographer's side marker; the shortcut lab may register
    another (e.g. "PORTABLE") by instantiating the class with its own key and text.
    """

    key = "burned-in-marker"
    title = "Burned-in text marker"
    explanation = (
        "Text is often part of the pixels rather than the header: a lead side marker (L or "
        "R) placed on the cassette, a 'PORTABLE' or 'SUPINE' label stamped by the x-ray "
        "unit, a hospital's logo, a ruler. A reader looks past them. A model may not: if, "
        "in its training data, portable films (and so their label) came mostly from sicker "
        "inpatients, the model can learn to read the label instead of the lungs, a shortcut "
        "that looks like accuracy until it meets another hospital. Here a text marker of the "
        "chosen height is burned into the top-left corner at the image's brightest value."
    )
    severity_unit = "marker height (% of image height)"
    severity_min = 0.0
    severity_max = 25.0

    def __init__(self, *, key: str = "burned-in-marker", text: str = "L") -> None:
        self.key = key
        self.text = text

    def apply(self, image: np.ndarray, *, severity: float, seed: int) -> np.ndarray:
        if severity <= self.severity_min:
            return image_copy(image)
        rows, cols = image.shape[-2:]
        height_px = round(rows * severity / 100.0)
        mask = text_mask((rows, cols), text=self.text, height_px=height_px)
        result = image_copy(image)
        result[..., mask] = float(image.max())
        return result
