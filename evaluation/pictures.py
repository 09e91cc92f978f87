"""Case pictures for cohort runs: windowed patches and Grad-CAM overlays as PNG bytes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from zoo.cohorts.ct_lesions import ORGAN_WINDOWS as WINDOWS
from zoo.rendering import png_bytes, window_to_grey

UPSCALE = 3  # 64 x 64 patches drawn at 192 x 192 pixels


def case_picture_png(image_hu: np.ndarray, *, organ: str) -> bytes:
    centre, width = WINDOWS.get(organ, WINDOWS["kidney"])
    return png_bytes(window_to_grey(image_hu, centre=centre, width=width), upscale=UPSCALE)


def saliency_picture_png(
    *, model, image: np.ndarray, organ: str, pixel_spacing_mm: float
) -> tuple[bytes, float]:
    """Grad-CAM (zoo.explainers) over the windowed patch, and the map's share on the
    burned-in marker's pixels (dilated by 2)."""
    from matplotlib import colormaps

    from zoo.base import ImageVolume
    from zoo.cohorts.shortcut_lesions import marker_region
    from zoo.explainers.registry import explainer_get

    volume = ImageVolume.from_slice(
        image=image, modality="CT", pixel_spacing_mm=(pixel_spacing_mm, pixel_spacing_mm)
    )
    values = explainer_get("grad-cam").explain(model=model, image=volume).values
    region = ndimage.binary_dilation(marker_region(image.shape), iterations=2)
    total = float(values.sum())
    share = float(values[region].sum()) / total if total > 0 else 0.0
    centre, width = WINDOWS.get(organ, WINDOWS["kidney"])
    grey = window_to_grey(image, centre=centre, width=width).astype(np.float32)
    heat = colormaps["inferno"](values)[..., :3] * 255.0
    alpha = 0.55 * values[..., None]
    blended = (1 - alpha) * grey[..., None] + alpha * heat
    return png_bytes(blended.astype(np.uint8), upscale=UPSCALE), share
