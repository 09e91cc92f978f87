"""The images an exported image question carries: the slice it is asked on and its key.

The slice is the one the question opens on (the author's target slice for a slice question,
else the slice where the segment is largest: ground_truth.segment_largest_slice's rule),
rendered as the DICOMweb rendered resource would be (studies.dicomweb.pixels.frame_render:
the image's own window). The key image is that slice with the reference segment tinted and
outlined, so an educator in another system sees what the answer key is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from assessments.ground_truth import GroundTruthMissing, ground_truth_load
from studies.dicomweb.pixels import RenderRequest, frame_render
from studies.models import Series
from studies.selectors import instance_file_path

KEY_TINT = np.array([230, 40, 40], dtype=np.float32)
KEY_ALPHA = 0.45


class KeyImageMissing(LookupError):
    """The question's series or segmentation cannot be read from the library."""


@dataclass(frozen=True)
class KeyImages:
    slice_number: int  # 1-based, in the series' order
    width: int
    height: int
    slice_png: bytes
    key_png: bytes
    # The segment on that slice, in image pixels ((0, 0) the top-left pixel).
    bounds: tuple[int, int, int, int]  # left, top, right, bottom (inclusive)
    centre: tuple[int, int]  # column, row
    pixel_spacing_mm: tuple[float, float]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def key_images_render(data: dict, *, kind: str) -> KeyImages:
    """The slice and key PNGs of an image question; raises KeyImageMissing."""
    try:
        truth = ground_truth_load(data)
    except GroundTruthMissing as missing:
        raise KeyImageMissing(str(missing)) from None
    areas = truth.mask.reshape(truth.mask.shape[0], -1).sum(axis=1)
    if kind == "image_slice" and data.get("target_slice"):
        k = min(int(data["target_slice"]), len(truth.sop_uids)) - 1
    else:
        k = int(areas.argmax())
    series = Series.objects.filter(series_instance_uid=data["series_uid"]).first()
    instance = (
        series.instances.filter(sop_instance_uid=truth.sop_uids[k]).first() if series else None
    )
    if instance is None:
        raise KeyImageMissing(f"Slice {k + 1} of {data['series_uid']} is not in the library.")
    rendered = frame_render(
        instance=instance,
        path=instance_file_path(instance=instance),
        frame_number=1,
        request=RenderRequest(media_type="image/png", window=None, viewport=None),
    )
    grey = Image.open(io.BytesIO(rendered)).convert("RGB")
    mask = truth.mask[k]
    if grey.size != (mask.shape[1], mask.shape[0]):
        raise KeyImageMissing("The rendered slice does not match the segmentation's size.")
    pixels = np.asarray(grey, dtype=np.float32)
    tinted = pixels.copy()
    tinted[mask] = (1 - KEY_ALPHA) * pixels[mask] + KEY_ALPHA * KEY_TINT
    edge = mask & ~ndimage.binary_erosion(mask, iterations=1)
    tinted[edge] = KEY_TINT
    key = Image.fromarray(tinted.clip(0, 255).astype(np.uint8), mode="RGB")
    rows, columns = np.nonzero(mask)
    if rows.size:
        bounds = (int(columns.min()), int(rows.min()), int(columns.max()), int(rows.max()))
        centre = (round(float(columns.mean())), round(float(rows.mean())))
    else:  # a slice question whose target slice has no segment: the whole image
        bounds = (0, 0, mask.shape[1] - 1, mask.shape[0] - 1)
        centre = (mask.shape[1] // 2, mask.shape[0] // 2)
    return KeyImages(
        slice_number=k + 1,
        width=mask.shape[1],
        height=mask.shape[0],
        slice_png=_png(grey.convert("L")),
        key_png=_png(key),
        bounds=bounds,
        centre=centre,
        pixel_spacing_mm=truth.pixel_spacing_mm,
    )
