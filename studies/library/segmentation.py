"""DICOM Segmentation (SEG) instances from a label volume that matches an image series.

The SEG is a BINARY Segmentation (PS3.3 A.51, C.8.20) written by highdicom: one frame per
(segment, slice) that contains the segment, each frame referencing its source image, so
viewers can overlay it on the series it was derived from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian

from studies.library.nifti_volume import LpsVolume

if TYPE_CHECKING:
    from studies.library.identity import LibraryStudyIdentity
    from studies.library.study_builder import BuildInputs
from studies.library.volume_series import (
    LIBRARY_MANUFACTURER,
    LIBRARY_MODEL_NAME,
    LIBRARY_SOFTWARE_VERSION,
)


@dataclass(frozen=True)
class SegmentSpec:
    """One segment: which label value it takes from the volume, and what it is (PS3.3
    C.8.20.2, coded with SNOMED CT as CID 7151 "Segmentation Property Types" expects)."""

    label_value: int
    label: str
    property_type: Code
    property_category: Code = codes.SCT.AnatomicalStructure


@dataclass(frozen=True)
class SegmentationAlgorithm:
    """Who or what drew the segments (PS3.3 C.8.20.2, Segment Algorithm Type)."""

    algorithm_type: hd.seg.SegmentAlgorithmTypeValues
    name: str
    version: str
    family: Code


@dataclass(frozen=True)
class SegmentationPlan:
    """Series-level values of the SEG instance."""

    series_instance_uid: str
    sop_instance_uid: str
    series_number: int
    series_description: str
    content_label: str  # CS: upper case, digits, space, underscore; at most 16 characters
    content_date: dt.date
    content_time: str
    dimension_organization_uid: str


def segmentation_plan_for_series(
    *,
    inputs: BuildInputs,
    study: LibraryStudyIdentity,
    series_number: int,
    series_description: str,
    content_label: str,
) -> SegmentationPlan:
    """The plan of a library study's one-instance SEG series `series_number`: the builder's
    reproducible UIDs for it, and the study's date and time as content date and time."""
    return SegmentationPlan(
        series_instance_uid=inputs.uid("series", series_number),
        sop_instance_uid=inputs.uid("series", series_number, "instance", 1),
        series_number=series_number,
        series_description=series_description,
        content_label=content_label,
        content_date=study.study_date,
        content_time=study.study_time,
        dimension_organization_uid=inputs.uid("series", series_number, "dimension-organization"),
    )


def segmentation_from_label_volume(
    *,
    source_images: list[Dataset],
    image_volume: LpsVolume,
    labels: LpsVolume,
    segments: list[SegmentSpec],
    algorithm: SegmentationAlgorithm,
    plan: SegmentationPlan,
) -> Dataset:
    """A BINARY SEG whose frames reference `source_images`.

    Preconditions: `source_images[k]` was made from slice k of `image_volume`, and `labels`
    has the same grid (shape and affine) as `image_volume`; a label volume on another grid
    would put every segment in the wrong place, so it is refused.
    """
    if labels.stored.shape != image_volume.stored.shape or not np.allclose(
        labels.affine_lps, image_volume.affine_lps, atol=1e-3
    ):
        raise ValueError("the label volume is not on the image volume's grid")
    if len(source_images) != image_volume.slice_count:
        raise ValueError("one source image per slice is required")

    # Segment numbers are 1..N in the order given (PS3.3 C.8.20.2.1); other labels become 0.
    segment_numbers = np.zeros(int(labels.stored.max()) + 1, dtype=np.uint8)
    for number, segment in enumerate(segments, start=1):
        segment_numbers[segment.label_value] = number
    label_slices = np.stack([labels.slice_pixels(index=k) for k in range(labels.slice_count)])
    pixel_array = segment_numbers[label_slices]

    identification = hd.AlgorithmIdentificationSequence(
        name=algorithm.name, family=algorithm.family, version=algorithm.version
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=segment.label,
            segmented_property_category=segment.property_category,
            segmented_property_type=segment.property_type,
            algorithm_type=algorithm.algorithm_type,
            algorithm_identification=identification,
        )
        for number, segment in enumerate(segments, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=source_images,
        pixel_array=pixel_array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=plan.series_instance_uid,
        series_number=plan.series_number,
        sop_instance_uid=plan.sop_instance_uid,
        instance_number=1,
        manufacturer=LIBRARY_MANUFACTURER,
        manufacturer_model_name=LIBRARY_MODEL_NAME,
        software_versions=LIBRARY_SOFTWARE_VERSION,
        device_serial_number="1",
        transfer_syntax_uid=ExplicitVRLittleEndian,
        series_description=plan.series_description,
        content_label=plan.content_label,
        content_creator_name=None,
        omit_empty_frames=True,
    )
    # highdicom stamps the wall clock and a random Dimension Organization UID; the library
    # must be reproducible, so both are replaced by values derived from the plan.
    stamp_date = plan.content_date.strftime("%Y%m%d")
    _nested_values_set(
        seg, keyword="DimensionOrganizationUID", value=plan.dimension_organization_uid
    )
    _nested_values_set(seg, keyword="ContributionDateTime", value=stamp_date + plan.content_time)
    for keyword in ("ContentDate", "SeriesDate", "InstanceCreationDate"):
        if keyword in seg:
            setattr(seg, keyword, stamp_date)
    for keyword in ("ContentTime", "SeriesTime", "InstanceCreationTime"):
        if keyword in seg:
            setattr(seg, keyword, plan.content_time)
    return Dataset(seg)


def _nested_values_set(ds: Dataset, *, keyword: str, value: str) -> None:
    """Set every occurrence of `keyword`, at any depth, to `value`."""
    for elem in ds:
        if elem.keyword == keyword:
            elem.value = value
        elif elem.VR == "SQ":
            for item in elem.value:
                _nested_values_set(item, keyword=keyword, value=value)
