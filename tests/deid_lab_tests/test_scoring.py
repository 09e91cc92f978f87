"""Scoring of step 1 against cases worked out by hand."""

from __future__ import annotations

import pytest

from deid_lab.header_table import header_rows
from deid_lab.scoring import UnknownFinding, findings_score
from deid_lab.seeding import SEEDED_PHI, seeded_study_build

ROWS = header_rows(seeded_study_build().dataset)
PLANTED = {loc for item in SEEDED_PHI for loc in item.locations}


def test_the_planted_places_counted_by_hand():
    counted = [
        *("PatientName", "ImageComments", "(0033,1010)", "PatientID", "(0033,1011)"),
        *("OtherPatientIDsSequence[0].PatientID", "OtherPatientIDsSequence[1].PatientID"),
        *("PatientBirthDate", "PatientAge", "PatientSex", "PatientWeight", "PatientSize"),
        *("AccessionNumber", "StudyID", "RequestAttributesSequence[0].AccessionNumber"),
        "RequestAttributesSequence[0].RequestedProcedureID",
        "RequestAttributesSequence[0].ScheduledProcedureStepID",
        *("ReferringPhysicianName", "StudyDescription", "OperatorsName"),
        *("InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName"),
        *("StationName", "DeviceSerialNumber"),
        *("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"),
        *("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime"),
        *("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"),
        "PixelData",
    ]
    assert len(counted) == 38 and set(counted) == PLANTED


def test_a_resident_who_ticks_three_right_and_two_wrong():
    ticked = {"PatientName", "(0033,1011)", "PixelData", "KVP", "(0019,1023)"}
    score = findings_score(ticked=ticked, rows=ROWS)
    assert [v.path for v in score.found] == ["PatientName", "(0033,1011)", "PixelData"]
    assert score.targets == 38 and len(score.missed) == 35
    assert [v.path for v in score.false_alarms] == ["KVP", "(0019,1023)"]
    kvp, table_speed = score.false_alarms
    assert "not in Table E.1-1" in kvp.explanation
    assert "Table E.3.10-1" in table_speed.explanation and "Table Speed" in table_speed.explanation
    assert score.listed == []


def test_suspecting_an_attribute_the_profile_lists_is_not_a_false_alarm():
    """Series Description is X in Table E.1-1; it holds nothing identifying here."""
    score = findings_score(ticked={"SeriesDescription", "(0033,0010)"}, rows=ROWS)
    assert {v.path for v in score.listed} == {"SeriesDescription", "(0033,0010)"}
    assert score.false_alarms == [] and score.found == []
    assert "Series Description (action X)" in score.listed[0].explanation


def test_ticking_everything_finds_everything_with_many_false_alarms():
    score = findings_score(ticked={row.path for row in ROWS if not row.is_sequence}, rows=ROWS)
    assert len(score.found) == 38 and score.missed == []
    assert {"Rows", "Columns", "KVP", "Modality"} <= {v.path for v in score.false_alarms}


def test_the_trap_variant_explains_that_the_flag_was_wrong():
    declared = findings_score(ticked=set(), rows=ROWS, variant="declared")
    trap = findings_score(ticked=set(), rows=ROWS, variant="undeclared")
    pixel = next(v for v in trap.missed if v.path == "PixelData")
    assert "Burned In Annotation NO" in pixel.explanation
    assert (
        "Burned In Annotation NO"
        not in next(v for v in declared.missed if v.path == "PixelData").explanation
    )


def test_a_path_not_in_the_header_is_refused():
    with pytest.raises(UnknownFinding, match="PatientMothersBirthName"):
        findings_score(ticked={"PatientMothersBirthName"}, rows=ROWS)
