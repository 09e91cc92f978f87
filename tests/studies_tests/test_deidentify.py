"""De-identification (PS3.15 Basic Profile) against hand-made datasets."""

from __future__ import annotations

import copy

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from studies.deidentify import (
    BASIC_PROFILE_RULES,
    REVIEW_STATUS_CLEAN,
    REVIEW_STATUS_QUARANTINE,
    UidMap,
    burned_in_annotation_risk,
    dataset_deidentify,
    uid_from_key,
)

STUDY_UID = "1.2.826.0.1.3680043.99.1"
SERIES_UID = "1.2.826.0.1.3680043.99.1.1"
FRAME_UID = "1.2.826.0.1.3680043.99.1.9"
REAL_NAME = "Doe^Jane^Q"


def instance_make(*, sop_uid: str, referenced_sop_uid: str | None = None) -> Dataset:
    """A CT instance full of identifying data, nested sequences, private and overlay tags."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.SourceApplicationEntityTitle = "HOSPITAL_PACS"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = SERIES_UID
    ds.FrameOfReferenceUID = FRAME_UID
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientName = REAL_NAME
    ds.PatientID = "MRN-123456"
    ds.PatientBirthDate = "19700102"
    ds.PatientSex = "F"
    ds.PatientAge = "054Y"
    ds.PatientAddress = "1 Main Street, Springfield"
    ds.OtherPatientIDs = "SSN-999"
    ds.AccessionNumber = "ACC778899"
    ds.InstitutionName = "St Elsewhere Hospital"
    ds.ReferringPhysicianName = "House^Gregory"
    ds.OperatorsName = "Tech^Tina"
    ds.StudyDescription = "CT chest for Jane Doe"
    ds.StudyDate = "20240110"
    ds.StudyTime = "101500"
    ds.SeriesDate = "20240110"
    ds.AcquisitionDateTime = "20240110101702.123456+0100"
    ds.InstanceCreationDate = "20240111"
    ds.Manufacturer = "ACME"
    ds.SliceThickness = "2.5"
    ds.add_new(0x00091010, "LO", "ACME PRIVATE")  # private creator
    ds.add_new(0x00091001, "LO", "Jane Doe secret")
    ds.add_new(0x60000010, "US", 512)  # overlay rows
    ds.add_new(0x60003000, "OW", b"\x00" * 8)  # overlay data
    ds.add_new(0x50000005, "US", 1)  # curve dimensions
    ds.add_new(0x00080000, "UL", 1234)  # a group length

    request = Dataset()
    request.RequestedProcedureID = "RP-1"
    request.ScheduledProcedureStepID = "SPS-1"
    ds.RequestAttributesSequence = Sequence([request])

    reference = Dataset()
    reference.ReferencedSOPClassUID = CTImageStorage
    reference.ReferencedSOPInstanceUID = referenced_sop_uid or sop_uid
    ds.ReferencedImageSequence = Sequence([reference])

    # A sequence the table does not list: kept, but its items are cleaned recursively.
    series_item = Dataset()
    series_item.SeriesInstanceUID = SERIES_UID
    series_item.OperatorsName = "Tech^Tina"
    series_item.add_new(0x00111010, "LO", "nested private")
    instance_item = Dataset()
    instance_item.ReferencedSOPInstanceUID = referenced_sop_uid or sop_uid
    instance_item.PatientName = REAL_NAME
    series_item.ReferencedInstanceSequence = Sequence([instance_item])
    ds.ReferencedSeriesSequence = Sequence([series_item])
    return ds


def test_identifying_attributes_are_removed_emptied_or_replaced():
    ds = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    report = dataset_deidentify(ds, uid_map=UidMap(namespace="study-a"))

    assert ds.PatientName == "" and ds.PatientID == "" and ds.PatientBirthDate == ""
    assert ds.AccessionNumber == "" and ds.ReferringPhysicianName == ""
    for keyword in ("PatientAddress", "OtherPatientIDs", "PatientAge", "StudyDescription"):
        assert keyword not in ds, keyword
    # X/Z/D on a present value: a dummy keeps a possibly Type 1 attribute valid.
    assert ds.InstitutionName == "ANONYMIZED"
    assert ds.Manufacturer == "ACME" and ds.SliceThickness == 2.5  # not in the table: kept
    assert ds.PatientIdentityRemoved == "YES"
    assert "SourceApplicationEntityTitle" not in ds.file_meta
    assert report.review_status == REVIEW_STATUS_CLEAN


def test_private_overlay_curve_and_group_length_elements_are_removed():
    ds = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    report = dataset_deidentify(ds, uid_map=UidMap(namespace="study-a"))

    remaining = [elem.tag for elem in ds.iterall()]
    assert not [tag for tag in remaining if tag.is_private]
    assert not [tag for tag in remaining if tag.group in (0x6000, 0x5000)]
    assert 0x00080000 not in ds
    rules = {action.rule for action in report.actions if action.outcome == "removed"}
    assert {"private", "overlay", "curve", "group length"} <= rules


def test_uids_are_consistent_within_a_study_and_differ_between_studies():
    first_uid, second_uid = "1.2.826.0.1.3680043.99.1.1.1", "1.2.826.0.1.3680043.99.1.1.2"
    first = instance_make(sop_uid=first_uid)
    second = instance_make(sop_uid=second_uid, referenced_sop_uid=first_uid)
    study_map = UidMap(namespace="study-a")
    dataset_deidentify(first, uid_map=study_map)
    dataset_deidentify(second, uid_map=study_map)

    assert first.StudyInstanceUID == second.StudyInstanceUID != STUDY_UID
    assert first.SeriesInstanceUID == second.SeriesInstanceUID != SERIES_UID
    assert first.FrameOfReferenceUID == second.FrameOfReferenceUID != FRAME_UID
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
    # References follow the referenced instance, at any depth.
    assert second.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
    nested = second.ReferencedSeriesSequence[0]
    assert nested.SeriesInstanceUID == second.SeriesInstanceUID
    assert nested.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
    for uid in (first.StudyInstanceUID, first.SOPInstanceUID):
        assert uid.startswith("2.25.") and len(uid) <= 64 and uid.is_valid

    other_study = instance_make(sop_uid=first_uid)
    dataset_deidentify(other_study, uid_map=UidMap(namespace="study-b"))
    assert other_study.StudyInstanceUID != first.StudyInstanceUID
    assert other_study.SOPInstanceUID != first.SOPInstanceUID

    rebuilt = instance_make(sop_uid=first_uid)
    dataset_deidentify(rebuilt, uid_map=UidMap(namespace="study-a"))
    assert rebuilt.SOPInstanceUID == first.SOPInstanceUID  # deterministic


def test_dates_are_shifted_consistently_with_the_modified_dates_option():
    ds = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    report = dataset_deidentify(ds, uid_map=UidMap(namespace="a"), date_offset_days=-10)

    assert ds.StudyDate == "20231231"
    assert ds.SeriesDate == "20231231"
    assert ds.AcquisitionDateTime == "20231231101702.123456+0100"  # time of day kept
    assert ds.InstanceCreationDate == "20240101"  # unlisted date moved too
    assert ds.StudyTime == "101500"
    assert ds.PatientBirthDate == ""  # Z in the Basic Profile; not a longitudinal date
    codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113107"]
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert report.action_for("StudyDate").outcome == "date_shifted"
    assert report.date_offset_days == -10


def test_without_the_option_dates_follow_the_basic_profile():
    ds = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    dataset_deidentify(ds, uid_map=UidMap(namespace="a"))

    assert ds.StudyDate == ""  # Z
    assert ds.SeriesDate == "19000101"  # X/D with a value: dummy
    assert [item.CodeValue for item in ds.DeidentificationMethodCodeSequence] == ["113100"]
    assert ds.LongitudinalTemporalInformationModified == "REMOVED"


def test_nested_sequences_are_cleaned():
    ds = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    dataset_deidentify(ds, uid_map=UidMap(namespace="a"))

    assert "RequestAttributesSequence" not in ds  # X
    item = ds.ReferencedSeriesSequence[0]
    assert item.OperatorsName == "Anonymized^"
    assert not [elem for elem in item.iterall() if elem.tag.is_private]
    assert item.ReferencedInstanceSequence[0].PatientName == ""


def test_report_lists_outcomes_per_attribute_without_values():
    ds = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    report = dataset_deidentify(ds, uid_map=UidMap(namespace="a"), date_offset_days=3)

    assert report.action_for("PatientName").outcome == "emptied"
    assert report.action_for("OtherPatientIDs").outcome == "removed"
    assert report.action_for("InstitutionName").outcome == "replaced"
    assert report.action_for("SOPInstanceUID").outcome == "uid_replaced"
    assert report.action_for("Manufacturer").outcome == "kept"
    assert report.action_for("RequestAttributesSequence").rule == "X"
    nested_paths = [a.path for a in report.actions if "[0]." in a.path]
    assert "ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].PatientName" in nested_paths
    assert "PatientAddress" in report.keywords_with("removed")
    assert REAL_NAME not in repr(report) and "MRN-123456" not in repr(report)


@pytest.mark.parametrize(
    ("changes", "flagged"),
    [
        ({"Modality": "CT"}, False),
        ({"Modality": "US"}, True),
        ({"Modality": "US", "BurnedInAnnotation": "NO"}, False),
        ({"Modality": "CT", "BurnedInAnnotation": "YES"}, True),
        ({"SOPClassUID": SecondaryCaptureImageStorage, "Modality": "OT"}, True),
        ({"ImageType": ["DERIVED", "SECONDARY"]}, True),
        ({"ImageType": ["DERIVED", "SECONDARY"], "BurnedInAnnotation": "NO"}, False),
    ],
)
def test_burned_in_annotation_risk_quarantines(changes, flagged):
    ds = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    for keyword, value in changes.items():
        setattr(ds, keyword, value)

    assert bool(burned_in_annotation_risk(ds)) is flagged
    report = dataset_deidentify(ds, uid_map=UidMap(namespace="a"))
    assert report.review_status == (REVIEW_STATUS_QUARANTINE if flagged else REVIEW_STATUS_CLEAN)


def test_an_item_shared_by_two_sequences_is_cleaned_once():
    # highdicom builds SEGs whose per-frame items share Dataset objects in memory.
    ds = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    shared = Dataset()
    shared.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.99.1.1.7"
    ds.ReferencedImageSequence = Sequence([shared, shared])
    ds.SourceImageSequence = Sequence([shared])
    uid_map = UidMap(namespace="a")
    dataset_deidentify(ds, uid_map=uid_map)

    expected = uid_map.uid_replacement("1.2.826.0.1.3680043.99.1.1.7")
    assert [item.ReferencedSOPInstanceUID for item in ds.ReferencedImageSequence] == [expected] * 2
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == expected


def test_elements_shared_between_two_instances_are_mapped_once():
    # highdicom copies study attributes into a SEG as the same element objects as its source.
    source = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    derived = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.2")
    derived["StudyInstanceUID"] = source["StudyInstanceUID"]
    derived["ReferencedSeriesSequence"] = source["ReferencedSeriesSequence"]
    uid_map = UidMap(namespace="a")
    dataset_deidentify(source, uid_map=uid_map)
    dataset_deidentify(derived, uid_map=uid_map)

    assert derived.StudyInstanceUID == source.StudyInstanceUID == uid_map.uid_replacement(STUDY_UID)
    assert (
        derived.ReferencedSeriesSequence[0].SeriesInstanceUID
        == source.ReferencedSeriesSequence[0].SeriesInstanceUID
        == uid_map.uid_replacement(SERIES_UID)
    )


def test_original_dataset_survives_when_a_copy_is_deidentified():
    ds = instance_make(sop_uid="1.2.826.0.1.3680043.99.1.1.1")
    dataset_deidentify(copy.deepcopy(ds), uid_map=UidMap(namespace="a"))
    assert ds.PatientName == REAL_NAME


def test_profile_table_is_well_formed():
    assert len(BASIC_PROFILE_RULES) > 350
    allowed = {"D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}
    assert {rule.action for rule in BASIC_PROFILE_RULES.values()} <= allowed
    assert {rule.modified_dates for rule in BASIC_PROFILE_RULES.values()} <= {"", "C"}
    # Spot checks against PS3.15 Table E.1-1.
    assert BASIC_PROFILE_RULES[0x00100010].action == "Z"  # Patient's Name
    assert BASIC_PROFILE_RULES[0x00080018].action == "U"  # SOP Instance UID
    assert BASIC_PROFILE_RULES[0x00080080].action == "X/Z/D"  # Institution Name
    assert BASIC_PROFILE_RULES[0x00082112].action == "X/Z/U*"  # Source Image Sequence
    assert BASIC_PROFILE_RULES[0x00080020].modified_dates == "C"  # Study Date


def test_uid_from_key_is_reproducible_and_valid():
    uid = uid_from_key("artefact-library", "chest-ct", "series", 1)
    assert uid == uid_from_key("artefact-library", "chest-ct", "series", 1)
    assert uid != uid_from_key("artefact-library", "chest-ct", "series", 2)
    assert uid.startswith("2.25.") and uid.is_valid
