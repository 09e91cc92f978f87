"""One de-identification run of the lab, start to finish, without the database.

Build the seeded study, de-identify a copy with the chosen options (studies.deidentify),
verify what remains (deid_lab.verification), find for each leak which single change of
options would have removed it (by running the profile again with that change: the answer
is measured, not looked up), and draw the before/after pictures.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from pydicom.dataset import Dataset

from deid_lab.header_table import DiffRow, header_diff
from deid_lab.seeding import SeededStudy, Variant, seeded_study_build
from deid_lab.verification import Leak, burned_in_contrast, leaks_find
from studies.deidentify import (
    PROFILE_OPTIONS,
    PROFILE_OPTIONS_BY_KEY,
    DeidentificationReport,
    ProfileOptions,
    UidMap,
    dataset_deidentify,
)
from zoo.rendering import png_bytes, window_to_grey

Progress = Callable[[int, str], None]
# A per-attempt secret shift for the Modified Dates option is chosen by the service; the
# counterfactual runs use this one when they switch the option on.
COUNTERFACTUAL_DATE_OFFSET_DAYS = -137
# Wide enough for the burned-in text (stored 4095) and the body (CT soft tissue to bone).
PICTURE_WINDOW = {"centre": 500.0, "width": 3000.0}
PICTURE_UPSCALE = 4


def options_from_keys(keys: list[str], *, date_offset_days: int) -> ProfileOptions:
    """ProfileOptions from option keys (PROFILE_OPTIONS); unknown keys raise KeyError."""
    values: dict = {}
    for key in keys:
        if key not in PROFILE_OPTIONS_BY_KEY:
            raise KeyError(key)
        if key == "retain_modified_dates":
            values["date_offset_days"] = date_offset_days
        else:
            values[key] = True
    return ProfileOptions(**values)


def options_keys(options: ProfileOptions) -> list[str]:
    return [option.key for option in PROFILE_OPTIONS if getattr(options, option.key)]


def options_toggle(options: ProfileOptions, key: str) -> ProfileOptions:
    """The same options with one switched; switching a date option on turns the other off."""
    if key == "retain_modified_dates":
        if options.retain_modified_dates:
            return replace(options, date_offset_days=None)
        return replace(
            options, date_offset_days=COUNTERFACTUAL_DATE_OFFSET_DAYS, retain_full_dates=False
        )
    if key == "retain_full_dates" and not options.retain_full_dates:
        return replace(options, retain_full_dates=True, date_offset_days=None)
    return replace(options, **{key: not getattr(options, key)})


@dataclass
class LeakVerdict:
    leak: Leak
    removed_by: list[str] = field(default_factory=list)  # "tick Clean Pixel Data", ...

    def to_json(self) -> dict:
        return {**self.leak.__dict__, "removed_by": self.removed_by}


@dataclass
class RunResult:
    options: list[str]
    leaks: list[LeakVerdict]
    diff: list[DiffRow]
    pixel_cleaning: list[str]
    pixel_notes: list[str]
    burned_in_contrast: float
    deidentified: Dataset
    original_png: bytes
    deidentified_png: bytes

    def to_json(self) -> dict:
        return {
            "options": self.options,
            "leaks": [verdict.to_json() for verdict in self.leaks],
            "diff": [row.__dict__ for row in self.diff],
            "pixel_cleaning": self.pixel_cleaning,
            "pixel_notes": self.pixel_notes,
            "burned_in_contrast": round(self.burned_in_contrast, 4),
        }


def deidentify_seeded(
    seeded: SeededStudy, *, options: ProfileOptions
) -> tuple[Dataset, DeidentificationReport]:
    ds = copy.deepcopy(seeded.dataset)
    # One namespace per lab: replacement UIDs are stable between runs of the lab.
    report = dataset_deidentify(ds, uid_map=UidMap(namespace="deid-lab"), options=options)
    return ds, report


def _dates_retained(options: ProfileOptions) -> bool:
    return options.retain_full_dates or options.retain_modified_dates


def leaks_with_remedies(seeded: SeededStudy, *, options: ProfileOptions, leaks: list[Leak]):
    """For each leak, the single option changes that remove it, found by re-running."""
    verdicts = [LeakVerdict(leak) for leak in leaks]
    if not leaks:
        return verdicts
    for option in PROFILE_OPTIONS:
        toggled = options_toggle(options, option.key)
        result, _report = deidentify_seeded(seeded, options=toggled)
        remaining = {
            leak.identity
            for leak in leaks_find(
                result,
                seeded=seeded,
                dates_retained=_dates_retained(toggled),
                dates_shifted=toggled.retain_modified_dates,
            )
        }
        verb = "untick" if getattr(options, option.key) else "tick"
        for verdict in verdicts:
            if verdict.leak.identity not in remaining:
                verdict.removed_by.append(f"{verb} {option.title}")
    return verdicts


def picture_png(ds: Dataset) -> bytes:
    """The slice as a PNG in a wide window, so burned-in text and anatomy both show."""
    pixels = ds.pixel_array.astype(np.float32) * float(ds.get("RescaleSlope", 1)) + float(
        ds.get("RescaleIntercept", 0)
    )
    return png_bytes(window_to_grey(pixels, **PICTURE_WINDOW), upscale=PICTURE_UPSCALE)


def deid_run_compute(
    *, variant: Variant, options: ProfileOptions, on_progress: Progress | None = None
) -> RunResult:
    """The whole run for one choice of options (pure: no database, no files)."""
    progress = on_progress or (lambda _percent, _message: None)
    progress(10, "Building the seeded study")
    seeded = seeded_study_build(variant=variant)
    progress(30, "De-identifying with the chosen options")
    result, report = deidentify_seeded(seeded, options=options)
    progress(50, "Searching the result for what was planted")
    leaks = leaks_find(
        result,
        seeded=seeded,
        dates_retained=_dates_retained(options),
        dates_shifted=options.retain_modified_dates,
    )
    progress(65, "Checking which option would have removed each leak")
    verdicts = leaks_with_remedies(seeded, options=options, leaks=leaks)
    progress(85, "Comparing the headers and drawing the images")
    return RunResult(
        options=options_keys(options),
        leaks=verdicts,
        diff=header_diff(seeded.dataset, result),
        pixel_cleaning=[
            f"Blanked {b.region.describe()}: {b.reason}; {b.pixels_changed} pixels changed."
            for b in report.pixel_regions_blanked
        ],
        pixel_notes=list(report.pixel_cleaning_notes),
        burned_in_contrast=burned_in_contrast(result.pixel_array, seeded=seeded),
        deidentified=result,
        original_png=picture_png(seeded.dataset),
        deidentified_png=picture_png(result),
    )


def dataset_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
