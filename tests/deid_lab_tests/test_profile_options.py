"""Each PS3.15 option of studies.deidentify keeps or removes what Annex E says, on the seeded study.

Table-driven: one row per attribute and option, citing the column of PS3.15 Table E.1-1 (or
the section of Annex E) that decides it. Every row is checked twice: with the Basic Profile
alone the planted value is gone, with the option it is there (or cleaned, for C).
"""

from __future__ import annotations

import numpy as np
import pytest

from deid_lab import seeding
from deid_lab.seeding import seeded_study_build
from studies.deidentify import (
    PROFILE_OPTIONS,
    PixelRegion,
    ProfileOptions,
    UidMap,
    dataset_deidentify,
)

OFFSET = -200


def deidentified(options: ProfileOptions, *, variant: str = "declared"):
    seeded = seeded_study_build(variant=variant)
    report = dataset_deidentify(seeded.dataset, uid_map=UidMap(namespace="t"), options=options)
    return seeded, report


def value(ds, keyword_or_tag):
    if isinstance(keyword_or_tag, int):
        return ds[keyword_or_tag].value if keyword_or_tag in ds else None
    return ds[keyword_or_tag].value if keyword_or_tag in ds else None


# (option field, attribute, planted value, the Table E.1-1 row that decides it)
KEEP_ROWS = [
    (
        "retain_device_identity",
        "StationName",
        seeding.STATION_NAME,
        "Station Name: X/Z/D; Rtn. Dev. Id. K",
    ),
    (
        "retain_device_identity",
        "DeviceSerialNumber",
        seeding.DEVICE_SERIAL,
        "Device Serial Number: X/Z/D; Rtn. Dev. Id. K",
    ),
    (
        "retain_institution_identity",
        "InstitutionName",
        seeding.INSTITUTION_NAME,
        "Institution Name: X/Z/D; Rtn. Inst. Id. K",
    ),
    (
        "retain_institution_identity",
        "InstitutionAddress",
        seeding.INSTITUTION_ADDRESS,
        "Institution Address: X; Rtn. Inst. Id. K",
    ),
    (
        "retain_institution_identity",
        "InstitutionalDepartmentName",
        seeding.DEPARTMENT_NAME,
        "Institutional Department Name: X; Rtn. Inst. Id. K",
    ),
    (
        "retain_patient_characteristics",
        "PatientAge",
        seeding.PATIENT_AGE,
        "Patient's Age: X; Rtn. Pat. Chars. K",
    ),
    (
        "retain_patient_characteristics",
        "PatientSex",
        seeding.PATIENT_SEX,
        "Patient's Sex: Z; Rtn. Pat. Chars. K",
    ),
    (
        "retain_patient_characteristics",
        "PatientWeight",
        seeding.PATIENT_WEIGHT,
        "Patient's Weight: X; Rtn. Pat. Chars. K",
    ),
    (
        "retain_patient_characteristics",
        "PatientSize",
        seeding.PATIENT_SIZE,
        "Patient's Size: X; Rtn. Pat. Chars. K",
    ),
    (
        "retain_full_dates",
        "StudyDate",
        seeding.STUDY_DATE,
        "Study Date: Z; Rtn. Long. Full Dates K",
    ),
    (
        "retain_full_dates",
        "SeriesDate",
        seeding.STUDY_DATE,
        "Series Date: X/D; Rtn. Long. Full Dates K",
    ),
    (
        "retain_full_dates",
        "AcquisitionDate",
        seeding.STUDY_DATE,
        "Acquisition Date: X/Z; Full Dates K",
    ),
    ("retain_full_dates", "ContentDate", seeding.STUDY_DATE, "Content Date: Z/D; Full Dates K"),
    (
        "retain_full_dates",
        "StudyTime",
        seeding.STUDY_TIMES["StudyTime"],
        "Study Time: Z; Full Dates K",
    ),
    (
        "retain_full_dates",
        "AcquisitionTime",
        seeding.STUDY_TIMES["AcquisitionTime"],
        "Acquisition Time: X/Z; Full Dates K",
    ),
    (
        "retain_uids",
        "StudyInstanceUID",
        f"{seeding.SEEDED_UID_ROOT}.1",
        "Study Instance UID: U; Rtn. UIDs K",
    ),
    (
        "retain_uids",
        "SeriesInstanceUID",
        f"{seeding.SEEDED_UID_ROOT}.1.3",
        "Series Instance UID: U; Rtn. UIDs K",
    ),
    (
        "retain_uids",
        "SOPInstanceUID",
        f"{seeding.SEEDED_UID_ROOT}.1.3.1",
        "SOP Instance UID: U; Rtn. UIDs K",
    ),
    (
        "retain_uids",
        "FrameOfReferenceUID",
        f"{seeding.SEEDED_UID_ROOT}.1.9",
        "Frame of Reference UID: U; Rtn. UIDs K",
    ),
    (
        "retain_safe_private",
        0x00191023,
        "5.000000",
        "GEMS_ACQU_01 (0019,xx23) Table Speed: Table E.3.10-1",
    ),
    (
        "retain_safe_private",
        0x00191027,
        "1.000000",
        "GEMS_ACQU_01 (0019,xx27) Rotation Speed: Table E.3.10-1",
    ),
    (
        "retain_safe_private",
        0x00431027,
        "/1.0:1",
        "GEMS_PARM_01 (0043,xx27) Scan Pitch Ratio: Table E.3.10-1",
    ),
    (
        "retain_safe_private",
        0x00190010,
        "GEMS_ACQU_01",
        "E.3.10: with the Private Creator that defines them",
    ),
]


@pytest.mark.parametrize(
    ("option", "attribute", "planted", "rule"), KEEP_ROWS, ids=lambda r: str(r)[:40]
)
def test_an_option_keeps_what_its_column_marks_K_and_the_basic_profile_does_not(
    option, attribute, planted, rule
):
    basic, _ = deidentified(ProfileOptions())
    assert str(value(basic.dataset, attribute)) != planted, f"Basic Profile kept it ({rule})"
    kept, _report = deidentified(ProfileOptions(**{option: True}))
    assert str(value(kept.dataset, attribute)) == planted, rule


EVERY_RETAIN_OPTION = ProfileOptions(
    retain_safe_private=True,
    retain_uids=True,
    retain_device_identity=True,
    retain_institution_identity=True,
    retain_patient_characteristics=True,
    retain_full_dates=True,
    clean_descriptors=True,
)


@pytest.mark.parametrize(
    ("attribute", "planted"),
    [
        ("PatientName", seeding.PATIENT_NAME),
        ("PatientID", seeding.PATIENT_ID),
        ("PatientBirthDate", seeding.BIRTH_DATE),
        ("AccessionNumber", seeding.ACCESSION_NUMBER),
        ("ReferringPhysicianName", seeding.REFERRING_PHYSICIAN),
        ("OperatorsName", seeding.OPERATOR),
        ("StudyID", seeding.STUDY_ID),
    ],
)
def test_no_option_keeps_the_direct_identifiers(attribute, planted):
    """No option column of Table E.1-1 marks these K: every option together still removes them."""
    result, _ = deidentified(EVERY_RETAIN_OPTION)
    assert str(value(result.dataset, attribute) or "") in {"", "Anonymized^", "ANONYMIZED"}
    assert planted not in str(value(result.dataset, attribute))


def test_sequences_holding_identifiers_go_whatever_the_options():
    """Other Patient IDs Sequence and Request Attributes Sequence: X, no option keeps them."""
    result, _ = deidentified(EVERY_RETAIN_OPTION)
    assert "OtherPatientIDsSequence" not in result.dataset
    assert "RequestAttributesSequence" not in result.dataset


def test_retain_safe_private_keeps_only_listed_private_elements():
    """E.3.10: the unknown RIS block with a name and MRN goes, with its creator."""
    result, report = deidentified(ProfileOptions(retain_safe_private=True))
    ds = result.dataset
    assert seeding.PRIVATE_CREATOR not in [str(e.value) for e in ds if e.tag.is_private]
    assert 0x00331010 not in ds and 0x00331011 not in ds and 0x00330010 not in ds
    assert 0x00191024 in ds  # Mid Scan Time, Table E.3.10-1
    kept = [a.path for a in report.actions if a.rule == "retain safe private option"]
    assert "(0019,1023)" in kept and "(0043,0010)" in kept


def test_modified_dates_shift_every_date_by_the_offset_and_keep_times():
    """E.3.6 Modified Dates: the C rows are shifted; the interval to the birth date is kept
    because Birth Date is Z with no C, so it is removed, not shifted."""
    result, _ = deidentified(ProfileOptions(date_offset_days=OFFSET))
    ds = result.dataset
    assert ds.StudyDate == "20230824"  # 2024-03-11 minus 200 days
    assert ds.SeriesDate == ds.AcquisitionDate == ds.ContentDate == "20230824"
    assert ds.StudyTime == seeding.STUDY_TIMES["StudyTime"]
    assert ds.PatientBirthDate == ""
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (ProfileOptions(), "REMOVED"),
        (ProfileOptions(retain_full_dates=True), "UNMODIFIED"),
        (ProfileOptions(date_offset_days=5), "MODIFIED"),
    ],
)
def test_longitudinal_temporal_information_modified_says_what_was_done(options, expected):
    """PS3.15 E.3.6 and PS3.3 C.12.1."""
    result, _ = deidentified(options)
    assert result.dataset.LongitudinalTemporalInformationModified == expected


def test_full_and_modified_dates_exclude_each_other():
    with pytest.raises(ValueError, match="either full dates or modified dates"):
        ProfileOptions(retain_full_dates=True, date_offset_days=3)


def test_the_offset_goes_inside_the_options_not_beside_them():
    ds = seeded_study_build().dataset
    with pytest.raises(ValueError, match="inside `options`"):
        dataset_deidentify(
            ds, uid_map=UidMap(namespace="t"), date_offset_days=3, options=ProfileOptions()
        )


def test_every_chosen_option_is_recorded_with_its_cid_7050_code():
    every = ProfileOptions(
        **{o.key: True for o in PROFILE_OPTIONS if o.key not in {"retain_modified_dates"}}
    )
    result, _ = deidentified(every)
    codes = {item.CodeValue for item in result.dataset.DeidentificationMethodCodeSequence}
    assert codes == {"113100"} | {
        o.code[0] for o in PROFILE_OPTIONS if o.key != "retain_modified_dates"
    }
    assert result.dataset.PatientIdentityRemoved == "YES"


def test_clean_descriptors_keeps_the_meaning_and_drops_the_identity():
    """E.3.5: Image Comments and Study Description are X in the Basic Profile, C with the option."""
    basic, _ = deidentified(ProfileOptions())
    assert "ImageComments" not in basic.dataset and "StudyDescription" not in basic.dataset
    cleaned, report = deidentified(ProfileOptions(clean_descriptors=True))
    comments = cleaned.dataset.ImageComments
    assert "contrast" in comments and "phoned" in comments
    for planted in ("Halvorsen", "Ingrid", seeding.PATIENT_ID, "11/03/2024"):
        assert planted.lower() not in comments.lower()
    assert cleaned.dataset.StudyDescription.startswith("CT ABDOMEN PELVIS")
    assert "OKONKWO" not in cleaned.dataset.StudyDescription
    assert report.action_for("ImageComments").outcome == "descriptor_cleaned"


def test_clean_pixel_data_blanks_the_detected_text_and_nothing_of_the_anatomy_far_from_it():
    seeded = seeded_study_build()
    before = seeded.dataset.pixel_array.copy()
    result, report = deidentified(ProfileOptions(clean_pixel_data=True))
    after = result.dataset.pixel_array
    assert (after[seeded.text_mask] == before.min()).all()
    [blanked] = report.pixel_regions_blanked
    region = blanked.region
    rows, columns = np.nonzero(seeded.text_mask)
    # The rectangle holds the text with a small margin, no more.
    assert region.top <= rows.min() and region.bottom > rows.max()
    assert region.left <= columns.min() and region.right > columns.max()
    assert (region.bottom - region.top) <= (rows.max() - rows.min() + 1) + 4
    outside = np.ones_like(seeded.text_mask)
    outside[region.top : region.bottom, region.left : region.right] = False
    assert np.array_equal(after[outside], before[outside])
    assert "top-left" in blanked.reason
    assert result.dataset.BurnedInAnnotation == "NO"


def test_clean_pixel_data_also_blanks_configured_regions():
    region = PixelRegion(top=100, left=100, bottom=110, right=120)
    result, report = deidentified(ProfileOptions(clean_pixel_data=True, pixel_regions=(region,)))
    assert (result.dataset.pixel_array[100:110, 100:120] == result.dataset.pixel_array.min()).all()
    assert [b.reason for b in report.pixel_regions_blanked][-1] == "configured region"


def test_without_clean_pixel_data_the_pixels_are_untouched():
    seeded = seeded_study_build()
    before = seeded.dataset.pixel_array.copy()
    result, report = deidentified(ProfileOptions(clean_descriptors=True))
    assert np.array_equal(result.dataset.pixel_array, before)
    assert report.pixel_regions_blanked == []
