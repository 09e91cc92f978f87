"""Reads from the study library: find a study by key and load its pixels in physical units."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file


class StudyNotFound(LookupError):
    pass


@dataclass(frozen=True)
class SampleStudy:
    key: str
    title: str
    modality: str
    source: str
    licence: str
    locate: Callable[[], list[Path]]


@dataclass(frozen=True)
class LoadedSeries:
    """A series as a stack of slices in physical units (HU for CT), top slice first."""

    study_key: str
    modality: str
    pixels: np.ndarray  # float32, shape (slices, rows, columns)
    pixel_spacing_mm: tuple[float, float]
    description: str


def _pydicom_test_file(name: str) -> Callable[[], list[Path]]:
    return lambda: [Path(get_testdata_file(name))]


SAMPLE_STUDIES = {
    study.key: study
    for study in (
        SampleStudy(
            key="ct-small",
            title="Axial CT slice, 128 x 128 (pydicom CT_small)",
            modality="CT",
            source="pydicom 3.0.2, pydicom/data/test_files/CT_small.dcm",
            licence="MIT",
            locate=_pydicom_test_file("CT_small.dcm"),
        ),
    )
}


def sample_study_choices() -> list[tuple[str, str]]:
    return [(study.key, study.title) for study in SAMPLE_STUDIES.values()]


def study_series_load(*, study_key: str) -> LoadedSeries:
    """Read the study's first series and return modality units (rescale applied).

    Raises StudyNotFound for an unknown key, so callers can tell residents clearly.
    """
    try:
        study = SAMPLE_STUDIES[study_key]
    except KeyError:
        raise StudyNotFound(f"No study {study_key!r} in the library.") from None
    datasets = [pydicom.dcmread(path) for path in study.locate()]
    datasets.sort(key=lambda ds: int(ds.get("InstanceNumber", 0)))
    slices = []
    for ds in datasets:
        # PS3.3 C.11.1.1.2: stored values become modality units through slope/intercept.
        slope = float(ds.get("RescaleSlope", 1.0))
        intercept = float(ds.get("RescaleIntercept", 0.0))
        slices.append(ds.pixel_array.astype(np.float32) * slope + intercept)
    first = datasets[0]
    spacing = tuple(float(v) for v in first.get("PixelSpacing", (1.0, 1.0)))
    return LoadedSeries(
        study_key=study_key,
        modality=str(first.get("Modality", study.modality)),
        pixels=np.stack(slices),
        pixel_spacing_mm=(spacing[0], spacing[1]),
        description=study.title,
    )
