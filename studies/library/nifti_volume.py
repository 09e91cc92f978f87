"""NIfTI volumes turned into DICOM patient geometry (LPS), slice by slice.

The two conventions, stated once:
- NIfTI-1 affines (qform/sform, as nibabel returns them) map voxel indices to RAS+ mm:
  +x toward the patient's Right, +y Anterior, +z Superior.
- DICOM patient coordinates are LPS+ (PS3.3 C.7.6.2.1.1): +x toward the patient's Left,
  +y Posterior, +z Superior.
So the NIfTI world point (x, y, z) is the DICOM patient point (-x, -y, z).

The voxels are also re-ordered so that index i grows toward the patient's Left, j toward
Posterior and k toward Superior. Each axial slice, drawn with rows top to bottom and
columns left to right, is then in the radiological convention (anterior up, patient's right
on the viewer's left) even in viewers that ignore Image Orientation (Patient).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel import orientations

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class SliceGeometry:
    """Image Plane module values for one slice (PS3.3 C.7.6.2)."""

    image_position_patient: tuple[float, float, float]  # centre of the first transmitted pixel
    # Direction cosines of a row (toward increasing column index) then of a column
    # (toward increasing row index), PS3.3 C.7.6.2.1.1.
    image_orientation_patient: tuple[float, float, float, float, float, float]
    pixel_spacing: tuple[float, float]  # (between rows, between columns), PS3.3 10.7.1.3
    spacing_between_slices: float
    slice_location: float  # position along the slice normal


@dataclass(frozen=True)
class LpsVolume:
    """Stored voxel values indexed [column, row, slice] and their voxel -> LPS mm affine.

    Real-world values are `stored * rescale_slope + rescale_intercept`, as in DICOM
    (PS3.3 C.11.1.1.2), so integer NIfTI data keep their exact stored values.
    """

    stored: np.ndarray
    affine_lps: np.ndarray
    rescale_slope: float
    rescale_intercept: float

    @property
    def slice_count(self) -> int:
        return int(self.stored.shape[2])

    def slice_pixels(self, *, index: int) -> np.ndarray:
        """The slice as a C-contiguous (rows, columns) array: row = j, column = i."""
        return np.ascontiguousarray(self.stored[:, :, index].T)

    def slice_geometry(self, *, index: int) -> SliceGeometry:
        linear = self.affine_lps[:3, :3]
        column_step, row_step, slice_step = linear[:, 0], linear[:, 1], linear[:, 2]
        row_cosines = column_step / np.linalg.norm(column_step)
        column_cosines = row_step / np.linalg.norm(row_step)
        normal = np.cross(row_cosines, column_cosines)
        position = self.affine_lps[:3, 3] + index * slice_step
        return SliceGeometry(
            image_position_patient=_floats3(position),
            image_orientation_patient=(*_floats3(row_cosines), *_floats3(column_cosines)),
            pixel_spacing=(float(np.linalg.norm(row_step)), float(np.linalg.norm(column_step))),
            spacing_between_slices=float(np.linalg.norm(slice_step)),
            slice_location=float(position @ normal),
        )

    def real_world_values(self) -> np.ndarray:
        return self.stored * self.rescale_slope + self.rescale_intercept


def _floats3(vector: np.ndarray) -> tuple[float, float, float]:
    # Round away floating-point dust (6.1e-17 for 0) that would otherwise be written to DS.
    x, y, z = (round(float(v), 6) + 0.0 for v in vector)
    return (x, y, z)


def volume_from_nifti(*, path: Path) -> LpsVolume:
    """Read a 3-D NIfTI file as an LpsVolume (see the module docstring for the conventions).

    Preconditions: the volume is 3-D and its voxel axes are orthogonal (no shear), which
    DICOM's Image Plane module cannot represent. The NIfTI scaling (scl_slope/scl_inter)
    becomes the rescale slope/intercept; the stored values are kept exactly.
    """
    image = nib.load(path)
    proxy = image.dataobj
    raw = np.asanyarray(proxy.get_unscaled() if hasattr(proxy, "get_unscaled") else proxy)
    if raw.ndim != 3:
        raise ValueError(f"{path.name}: expected a 3-D volume, got shape {raw.shape}")
    slope = float(getattr(proxy, "slope", 1.0))
    intercept = float(getattr(proxy, "inter", 0.0))
    if not np.isfinite(slope) or slope == 0:
        slope, intercept = 1.0, 0.0
    if not np.isfinite(intercept):
        intercept = 0.0

    to_lps_order = orientations.ornt_transform(
        orientations.io_orientation(image.affine), orientations.axcodes2ornt(("L", "P", "S"))
    )
    stored = orientations.apply_orientation(raw, to_lps_order)
    affine_ras = image.affine @ orientations.inv_ornt_aff(to_lps_order, raw.shape)
    affine_lps = _RAS_TO_LPS @ affine_ras

    axes = affine_lps[:3, :3] / np.linalg.norm(affine_lps[:3, :3], axis=0)
    if not np.allclose(axes.T @ axes, np.eye(3), atol=1e-4):
        raise ValueError(f"{path.name}: voxel axes are not orthogonal; cannot write DICOM planes")
    return LpsVolume(
        stored=stored, affine_lps=affine_lps, rescale_slope=slope, rescale_intercept=intercept
    )
