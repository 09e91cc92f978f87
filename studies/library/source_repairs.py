"""Repairs of known defects in source instances, so that the library validates (dciodvfy).

Real sample files carry the habits of their era: retired attributes, zeros written where
"unknown" was meant, identity rescale tags in IODs that do not define them. Each repair
here is small, named for what it changes, and applied by the builder that needs it before
de-identification. None touches pixel data.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydicom.datadict import dictionary_has_tag, dictionary_is_retired
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import DSfloat


def retired_attributes_remove(ds: Dataset) -> list[str]:
    """Remove standard attributes the data dictionary marks retired (top level only).

    Returns the keywords removed. Retired attributes are not part of any current IOD
    (PS3.3), and several duplicate a current one with possibly different values (e.g.
    Image Position (0020,0030) beside Image Position (Patient)).
    """
    removed = []
    for tag in list(ds.keys()):
        if tag.is_private or tag.element == 0 or tag.group in (0x0000, 0x0002):
            continue
        if dictionary_has_tag(tag) and dictionary_is_retired(tag):
            removed.append(ds[tag].keyword or str(tag))
            del ds[tag]
    return removed


def zero_values_remove(ds: Dataset, *, keywords: Iterable[str]) -> None:
    """Remove the named Type 3 attributes when every value is zero.

    Some writers put 0 for "unknown" (Pixel Spacing 0\\0 in a CR, Sensitivity 0); a zero
    spacing is invalid (PS3.3 10.7.1.3) and misleads measurement tools, absence is honest.
    """
    for keyword in keywords:
        value = ds.get(keyword)
        if value is None:
            continue
        values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
        if all(float(v) == 0 for v in values):
            delattr(ds, keyword)


def identity_rescale_remove(ds: Dataset) -> None:
    """Drop Rescale Slope 1 / Intercept 0 / Rescale Type from IODs without a Modality LUT
    module (MR Image, PS3.3 A.4): they change nothing and are not part of the IOD."""
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    if slope == 1 and intercept == 0:
        for keyword in ("RescaleSlope", "RescaleIntercept", "RescaleType"):
            if keyword in ds:
                delattr(ds, keyword)


def series_window_set(
    datasets: list[Dataset], *, explanation: str, low: float = 0.5, high: float = 99.5
) -> None:
    """Give every instance the same window, spanning percentiles of the series' non-zero
    pixel values (for sources whose Window Width is 0, which PS3.3 C.11.2.1.2 forbids)."""
    values = np.concatenate([ds.pixel_array.ravel() for ds in datasets]).astype(np.float64)
    values = values[values != 0]
    bottom, top = np.percentile(values, [low, high])
    for ds in datasets:
        ds.WindowCenter = DSfloat(round(float(bottom + top) / 2, 1), auto_format=True)
        ds.WindowWidth = DSfloat(round(max(float(top - bottom), 1.0), 1), auto_format=True)
        ds.WindowCenterWidthExplanation = explanation


def empty_laterality_remove_for_unpaired_part(ds: Dataset, *, body_part_examined: str) -> None:
    """Record the (unpaired) body part and drop an empty Laterality.

    Laterality (0020,0060) is Type 2C, required for paired body parts (PS3.3 C.7.3.1); with
    an unpaired Body Part Examined it should be absent rather than empty.
    """
    ds.BodyPartExamined = body_part_examined
    if "Laterality" in ds and not str(ds.Laterality or ""):
        del ds.Laterality


def spacing_between_slices_from_positions(datasets: list[Dataset]) -> None:
    """Set Spacing Between Slices to the measured centre-to-centre distance (PS3.3
    C.7.6.2.1.1 defines it so); some writers stored the gap between slices there instead.

    Precondition: the datasets are one parallel-slice series sorted along the normal.
    """
    orientation = np.array([float(v) for v in datasets[0].ImageOrientationPatient])
    normal = np.cross(orientation[:3], orientation[3:])
    positions = [np.array([float(v) for v in ds.ImagePositionPatient]) @ normal for ds in datasets]
    spacing = float(np.mean(np.abs(np.diff(positions))))
    for ds in datasets:
        ds.SpacingBetweenSlices = DSfloat(round(spacing, 2), auto_format=True)
