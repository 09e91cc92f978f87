"""What identifying information is left after de-identification, and where.

The verifier knows what was planted (deid_lab.seeding.SEEDED_PHI) and searches the whole
result for it: every element at every depth, private ones included, and the pixels of the
burned-in text. It is independent of studies.deidentify: it reads the output, never the
de-identifier's report, so a bug in the profile shows up as a leak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from deid_lab.seeding import PIXEL_DATA, SEEDED_PHI, SeededPhi, SeededStudy

# The text is still there while its pixels stand out from their surroundings by more than
# this share of the contrast they had when it was drawn (blanking brings it to ~0).
BURNED_IN_CONTRAST_LEGIBLE = 0.25


@dataclass(frozen=True)
class Leak:
    """One identifier found in the result."""

    item_key: str
    label: str
    path: str  # element path, or "PixelData"
    found: str  # what was found (the value, or a description for pixels)

    @property
    def identity(self) -> tuple[str, str]:
        return self.item_key, self.path


def _element_values(ds: Dataset, *, prefix: str = ""):
    """(path, keyword, VR, text) for every element with a value, at every depth."""
    for elem in ds:
        keyword = elem.keyword or str(elem.tag)
        path = f"{prefix}{keyword}"
        if elem.VR == "SQ":
            for index, item in enumerate(elem.value or []):
                yield from _element_values(item, prefix=f"{path}[{index}].")
            continue
        if elem.keyword == "PixelData" or elem.value is None:
            continue
        if isinstance(elem.value, bytes):
            # Private OB/UN blobs can hide text: look inside as Latin-1.
            text = elem.value.decode("latin-1", errors="replace")
        elif elem.VM > 1:
            text = "\\".join(str(v) for v in elem.value)
        else:
            text = str(elem.value)
        if text:
            yield path, keyword, elem.VR, text


def _date_spellings(date: str) -> tuple[str, ...]:
    y, m, d = date[:4], date[4:6], date[6:8]
    return (date, f"{y}-{m}-{d}", f"{d}/{m}/{y}", f"{m}/{d}/{y}", f"{d}.{m}.{y}")


def _header_leaks(ds: Dataset, item: SeededPhi) -> list[Leak]:
    leaks = []
    planted_keywords = {location.rsplit(".", 1)[-1] for location in item.locations}
    for path, keyword, vr, text in _element_values(ds):
        hit = None
        if item.match == "text":
            hit = next((n for n in item.needles if n.lower() in text.lower()), None)
        elif item.match == "value":
            if keyword in planted_keywords and text.strip() in item.needles:
                hit = text.strip()
        elif item.match == "date":
            for date in item.needles:
                if vr in {"DA", "DT"} and text.startswith(date):
                    hit = text
                elif any(s in text for s in _date_spellings(date)[1:]):
                    hit = next(s for s in _date_spellings(date)[1:] if s in text)
                if hit:
                    break
        elif item.match == "uid_root" and vr == "UI":
            root = item.needles[0]
            if any(uid.startswith(root + ".") for uid in text.split("\\")):
                hit = text
        if hit is not None:
            leaks.append(Leak(item.key, item.label, path, hit))
    return leaks


def burned_in_contrast(pixels: np.ndarray, *, seeded: SeededStudy) -> float:
    """How much of the burned-in text's original contrast is left (1.0 untouched, ~0 gone).

    Contrast is the mean of the text pixels minus the mean of the other pixels in the text's
    bounding box, divided by the same difference in the seeded image.
    """
    mask = seeded.text_mask
    rows, columns = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    original = seeded.dataset.pixel_array.astype(np.float64)[box]
    current = pixels.astype(np.float64)[box]
    inside = mask[box]
    before = original[inside].mean() - original[~inside].mean()
    after = current[inside].mean() - current[~inside].mean()
    return float(after / before) if before else 0.0


def text_box_describe(seeded: SeededStudy) -> str:
    rows, columns = np.nonzero(seeded.text_mask)
    return (
        f"rows {rows.min()}-{rows.max()}, columns {columns.min()}-{columns.max()} (top-left corner)"
    )


# The dummy the profile's D action writes into dates (studies.deidentify): not a real date.
DUMMY_DATE = "19000101"


def dates_remaining(ds: Dataset) -> list[Leak]:
    """Any real date left: when no dates were meant to be retained, none should remain."""
    return [
        Leak("any_date", "A date (dates were not to be retained)", path, text)
        for path, _keyword, vr, text in _element_values(ds)
        if vr in {"DA", "DT"} and re.match(r"\d{8}", text) and not text.startswith(DUMMY_DATE)
    ]


def leaks_find(
    ds: Dataset, *, seeded: SeededStudy, dates_retained: bool, dates_shifted: bool = False
) -> list[Leak]:
    """Every planted identifier still present in `ds`, with where it is.

    `dates_retained`: the chosen options keep dates (full or modified), so dates other than
    the planted ones are not reported. `dates_shifted`: the dates were moved (Modified Dates,
    PS3.15 E.3.6); a time of day without its true day identifies no one, so the planted
    times are not reported either.
    """
    leaks: list[Leak] = []
    for item in SEEDED_PHI:
        if item.key == "times" and dates_shifted:
            continue
        if item.match == "pixels":
            contrast = burned_in_contrast(ds.pixel_array, seeded=seeded)
            if contrast > BURNED_IN_CONTRAST_LEGIBLE:
                leaks.append(
                    Leak(
                        item.key,
                        item.label,
                        PIXEL_DATA,
                        f"text still legible at {contrast:.0%} of its original contrast, "
                        f"{text_box_describe(seeded)}",
                    )
                )
        else:
            leaks.extend(_header_leaks(ds, item))
    if not dates_retained:
        planted = {leak.path for leak in leaks if leak.item_key in {"dates", "birth_date"}}
        leaks.extend(leak for leak in dates_remaining(ds) if leak.path not in planted)
    return leaks
