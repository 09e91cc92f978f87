"""Colin27 T1 brain (Debian mricron-data) as an axial MR series, with a brain mask SEG.

ch2.nii.gz is the "Colin 27" single-subject template (181 x 217 x 181, 1 mm, with skull);
ch2bet.nii.gz is the same image skull-stripped, shipped with it. The mask (ch2bet > 0) is
the brain-extraction ground truth that skull-stripping labs compare against.
"""

from __future__ import annotations

import datetime as dt

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes

from studies.library.identity import FictitiousPatient, LibraryStudyIdentity
from studies.library.nifti_volume import LpsVolume, volume_from_nifti
from studies.library.segmentation import (
    SegmentationAlgorithm,
    SegmentSpec,
    segmentation_from_label_volume,
    segmentation_plan_for_series,
)
from studies.library.sources import MRICRON_DATA, SourceFile
from studies.library.study_builder import (
    BuildInputs,
    SeriesDraft,
    StudyBuilder,
    study_builder_register,
)
from studies.library.volume_series import (
    MrAcquisition,
    SeriesPlan,
    mr_series_from_volume,
    window_from_percentiles,
)

T1_FILE = SourceFile(source=MRICRON_DATA, path="usr/share/mricron/templates/ch2.nii.gz")
BRAIN_FILE = SourceFile(source=MRICRON_DATA, path="usr/share/mricron/templates/ch2bet.nii.gz")

STUDY = LibraryStudyIdentity(
    accession_number="ACC-0002",
    study_id="S0002",
    study_date=dt.date(2024, 3, 11),
    study_time="140000",
    study_description="MR brain T1 (Colin27 template)",
)


def brain_mask_from_skull_stripped(*, skull_stripped: LpsVolume) -> LpsVolume:
    """Label volume: 1 where the skull-stripped image is non-zero, else 0."""
    return LpsVolume(
        stored=(skull_stripped.stored > 0).astype(np.uint8),
        affine_lps=skull_stripped.affine_lps,
        rescale_slope=1.0,
        rescale_intercept=0.0,
    )


def colin27_series_build(inputs: BuildInputs) -> list[SeriesDraft]:
    t1 = volume_from_nifti(path=inputs.files[T1_FILE.path])
    brain = brain_mask_from_skull_stripped(
        skull_stripped=volume_from_nifti(path=inputs.files[BRAIN_FILE.path])
    )
    mr_images = mr_series_from_volume(
        volume=t1,
        inputs=inputs,
        plan=SeriesPlan(
            series_number=1,
            body_part_examined="BRAIN",
            # PS3.3 C.8.3.1.1.1 has no AXIAL for MR Value 3; OTHER is the defined catch-all.
            image_type=("DERIVED", "PRIMARY", "OTHER"),
            windows=(window_from_percentiles(volume=t1, explanation="BRAIN"),),
            content_date=STUDY.study_date,
            content_time=STUDY.study_time,
        ),
        # The template averages 27 T1-weighted spoiled gradient-echo scans (Holmes et al.
        # 1998); the timing parameters are not shipped, so they stay empty (Type 2).
        acquisition=MrAcquisition(
            scanning_sequence="GR", sequence_variant="SP", mr_acquisition_type="3D"
        ),
    )
    seg_plan = segmentation_plan_for_series(
        inputs=inputs,
        study=STUDY,
        series_number=2,
        series_description="Brain mask (skull-stripped reference)",
        content_label="BRAIN_MASK",
    )
    seg = segmentation_from_label_volume(
        source_images=mr_images,
        image_volume=t1,
        labels=brain,
        segments=[SegmentSpec(label_value=1, label="Brain", property_type=codes.SCT.Brain)],
        # ch2bet was produced with FSL's Brain Extraction Tool, a deformable surface model.
        algorithm=SegmentationAlgorithm(
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            name="BET (FSL Brain Extraction Tool)",
            version="unrecorded",
            family=codes.cid7162.DeformableModels,
        ),
        plan=seg_plan,
    )
    derivation = "Converted from NIfTI ch2.nii.gz (Debian mricron-data)"
    return [
        SeriesDraft(
            description="T1 axial 1 mm (template)",
            datasets=mr_images,
            curated={"DerivationDescription": derivation},
        ),
        SeriesDraft(description=seg_plan.series_description, datasets=[seg]),
    ]


study_builder_register(
    StudyBuilder(
        key="brain-t1-colin27",
        title="T1 brain MR (Colin27 template) with brain mask",
        description=(
            "The Colin27 single-subject T1 template (an average of 27 scans of one consenting "
            "volunteer), 181 axial slices of 181 x 217 at 1 mm, skull and face included. "
            "Series 2 is a SEG of the brain (ch2bet > 0), the reference for skull-stripping "
            "labs. The face can be reconstructed from series 1: it is a published template."
        ),
        modality="MR",
        version=1,
        sources=(T1_FILE, BRAIN_FILE),
        patient=FictitiousPatient(
            name="Artefact^Bram", patient_id="ART-0002", birth_date=dt.date(1966, 9, 2), sex="M"
        ),
        study=STUDY,
        series_build=colin27_series_build,
    )
)
