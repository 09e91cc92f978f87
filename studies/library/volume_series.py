"""Axial CT and MR image series built from an LpsVolume, one instance per slice.

The instances carry the modules their IODs require (PS3.3 A.3 CT Image IOD, A.4 MR Image
IOD) with empty Type 2 patient and study attributes: the library pipeline de-identifies
them and writes the fictitious identity afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, MRImageStorage
from pydicom.valuerep import DSfloat

from studies.library.nifti_volume import LpsVolume
from studies.library.study_builder import BuildInputs

LIBRARY_MANUFACTURER = "Artefact"
LIBRARY_MODEL_NAME = "Artefact study library"
LIBRARY_SOFTWARE_VERSION = "artefact-library 1"


@dataclass(frozen=True)
class DisplayWindow:
    """A VOI LUT window (PS3.3 C.11.2) in real-world units, with its name."""

    center: float
    width: float
    explanation: str


@dataclass(frozen=True)
class SeriesPlan:
    """Series-level choices shared by every slice of a volume series."""

    series_number: int
    body_part_examined: str  # PS3.16 Annex L defined term, e.g. "CHEST", "BRAIN"
    image_type: tuple[str, ...]
    windows: tuple[DisplayWindow, ...]
    content_date: dt.date
    content_time: str
    patient_position: str = "HFS"  # PS3.3 C.7.3.1.1.2: head first, supine


def ct_series_from_volume(
    *, volume: LpsVolume, inputs: BuildInputs, plan: SeriesPlan
) -> list[Dataset]:
    """One CT Image Storage instance per axial slice, real-world values in HU.

    Precondition: `volume` holds integer stored values whose rescale gives HU. Stored values
    are written unchanged with the volume's slope/intercept, so HU are preserved exactly.
    """
    datasets = []
    for index in range(volume.slice_count):
        ds = _volume_slice_instance(
            volume=volume,
            index=index,
            inputs=inputs,
            plan=plan,
            sop_class_uid=CTImageStorage,
            modality="CT",
        )
        # CT Image module, PS3.3 C.8.2.1.
        ds.RescaleIntercept = DSfloat(volume.rescale_intercept, auto_format=True)
        ds.RescaleSlope = DSfloat(volume.rescale_slope, auto_format=True)
        ds.RescaleType = "HU"
        ds.KVP = None
        ds.AcquisitionNumber = 1
        datasets.append(ds)
    return datasets


@dataclass(frozen=True)
class MrAcquisition:
    """MR Image module values (PS3.3 C.8.3.1) known about the source; unknown stays empty."""

    scanning_sequence: str  # e.g. "GR", "SE"
    sequence_variant: str  # e.g. "SP", "NONE"
    mr_acquisition_type: str  # "2D" or "3D"


def mr_series_from_volume(
    *, volume: LpsVolume, inputs: BuildInputs, plan: SeriesPlan, acquisition: MrAcquisition
) -> list[Dataset]:
    """One MR Image Storage instance per axial slice.

    Precondition: `volume` has identity scaling (MR stored values are the signal values).
    """
    if (volume.rescale_slope, volume.rescale_intercept) != (1.0, 0.0):
        raise ValueError("MR volumes must have identity scaling; rescale them first")
    datasets = []
    for index in range(volume.slice_count):
        ds = _volume_slice_instance(
            volume=volume,
            index=index,
            inputs=inputs,
            plan=plan,
            sop_class_uid=MRImageStorage,
            modality="MR",
        )
        ds.ScanningSequence = acquisition.scanning_sequence
        ds.SequenceVariant = acquisition.sequence_variant
        ds.ScanOptions = None
        ds.MRAcquisitionType = acquisition.mr_acquisition_type
        # Type 2: empty means "not known", which is the truth for an averaged template.
        ds.RepetitionTime = None
        ds.EchoTime = None
        ds.EchoTrainLength = None
        datasets.append(ds)
    return datasets


def _volume_slice_instance(
    *,
    volume: LpsVolume,
    index: int,
    inputs: BuildInputs,
    plan: SeriesPlan,
    sop_class_uid: str,
    modality: str,
) -> Dataset:
    geometry = volume.slice_geometry(index=index)
    ds = Dataset()
    # SOP Common, PS3.3 C.12.1.
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = inputs.uid("series", plan.series_number, "instance", index + 1)
    # Patient (C.7.1.1) and General Study (C.7.2.1): Type 2, written after de-identification.
    ds.PatientName = None
    ds.PatientID = None
    ds.PatientBirthDate = None
    ds.PatientSex = None
    ds.StudyInstanceUID = inputs.uid("study")
    ds.StudyDate = plan.content_date.strftime("%Y%m%d")
    ds.StudyTime = plan.content_time
    ds.ReferringPhysicianName = None
    ds.StudyID = None
    ds.AccessionNumber = None
    # General Series, C.7.3.1. Laterality is left out: these body parts are unpaired.
    ds.Modality = modality
    ds.SeriesInstanceUID = inputs.uid("series", plan.series_number)
    ds.SeriesNumber = plan.series_number
    ds.BodyPartExamined = plan.body_part_examined
    ds.PatientPosition = plan.patient_position
    # Frame of Reference, C.7.4.1.
    ds.FrameOfReferenceUID = inputs.uid("frame-of-reference")
    ds.PositionReferenceIndicator = None
    # General Equipment, C.7.5.1: the converter that made these instances.
    ds.Manufacturer = LIBRARY_MANUFACTURER
    ds.ManufacturerModelName = LIBRARY_MODEL_NAME
    ds.SoftwareVersions = LIBRARY_SOFTWARE_VERSION
    # General Image, C.7.6.1.
    ds.InstanceNumber = index + 1
    ds.ImageType = list(plan.image_type)
    ds.ContentDate = plan.content_date.strftime("%Y%m%d")
    ds.ContentTime = plan.content_time
    ds.BurnedInAnnotation = "NO"  # rendered from a volume: no text can be in the pixels
    # Image Plane, C.7.6.2. NIfTI records no slice thickness: contiguous slices are assumed.
    ds.ImagePositionPatient = _decimal_strings(geometry.image_position_patient)
    ds.ImageOrientationPatient = _decimal_strings(geometry.image_orientation_patient)
    ds.PixelSpacing = _decimal_strings(geometry.pixel_spacing)
    ds.SliceThickness = DSfloat(geometry.spacing_between_slices, auto_format=True)
    ds.SpacingBetweenSlices = DSfloat(geometry.spacing_between_slices, auto_format=True)
    ds.SliceLocation = DSfloat(geometry.slice_location, auto_format=True)
    # Image Pixel, C.7.6.3.
    pixels = _pixels_16_bit(volume.slice_pixels(index=index))
    ds.set_pixel_data(
        pixels,
        photometric_interpretation="MONOCHROME2",
        bits_stored=16,
        generate_instance_uid=False,
    )
    # VOI LUT, C.11.2: windows are in real-world units, as PS3.3 C.11.2.1.2 requires.
    if plan.windows:
        ds.WindowCenter = [DSfloat(w.center, auto_format=True) for w in plan.windows]
        ds.WindowWidth = [DSfloat(w.width, auto_format=True) for w in plan.windows]
        ds.WindowCenterWidthExplanation = [w.explanation for w in plan.windows]
    return ds


def _decimal_strings(values: Sequence[float]) -> list[DSfloat]:
    return [DSfloat(v, auto_format=True) for v in values]


def _pixels_16_bit(pixels: np.ndarray) -> np.ndarray:
    """Stored values as int16 or uint16 (PS3.3 C.8.2.1/C.8.3.1 need 16 bits allocated)."""
    if not np.issubdtype(pixels.dtype, np.integer):
        raise ValueError(f"stored values must be integers, got {pixels.dtype}")
    if np.issubdtype(pixels.dtype, np.signedinteger):
        if pixels.min() < -32768 or pixels.max() > 32767:
            raise ValueError("stored values do not fit 16 bits")
        return pixels.astype(np.int16)
    if pixels.max() > 65535:
        raise ValueError("stored values do not fit 16 bits")
    return pixels.astype(np.uint16)


def window_from_percentiles(
    *, volume: LpsVolume, low: float = 0.5, high: float = 99.5, explanation: str
) -> DisplayWindow:
    """A window spanning the given percentiles of the non-zero real-world values."""
    values = volume.real_world_values()
    values = values[values != 0]
    bottom, top = np.percentile(values, [low, high])
    return DisplayWindow(
        center=round(float((bottom + top) / 2), 1),
        width=round(max(float(top - bottom), 1.0), 1),
        explanation=explanation,
    )
