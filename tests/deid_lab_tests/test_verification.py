"""The verifier finds what an incomplete de-identification leaves, and says where and why."""

from __future__ import annotations

import copy

from deid_lab.computation import deid_run_compute, leaks_with_remedies
from deid_lab.seeding import PIXEL_DATA, seeded_study_build
from deid_lab.verification import leaks_find
from studies.deidentify import ProfileOptions


def where(leaks) -> set[tuple[str, str]]:
    return {(leak.item_key, leak.path) for leak in leaks}


def test_basic_profile_without_clean_pixel_data_leaves_the_burned_in_text():
    result = deid_run_compute(variant="declared", options=ProfileOptions())
    [leak] = [v for v in result.leaks]
    assert (leak.leak.item_key, leak.leak.path) == ("burned_in", PIXEL_DATA)
    assert "rows" in leak.leak.found and "100%" in leak.leak.found
    assert leak.removed_by == ["tick Clean Pixel Data"]


def test_basic_profile_with_clean_pixel_data_leaves_nothing_planted():
    result = deid_run_compute(variant="undeclared", options=ProfileOptions(clean_pixel_data=True))
    assert result.leaks == []
    assert result.burned_in_contrast < 0.05
    assert result.pixel_cleaning and "top-left" in result.pixel_cleaning[0]


def test_retain_device_identity_keeps_the_serial_and_the_verifier_says_which_option():
    result = deid_run_compute(
        variant="declared",
        options=ProfileOptions(retain_device_identity=True, clean_pixel_data=True),
    )
    found = {v.leak.path: v for v in result.leaks}
    assert set(found) == {"StationName", "DeviceSerialNumber"}
    assert found["DeviceSerialNumber"].leak.found == "HSCT-7741-0093"
    assert found["DeviceSerialNumber"].removed_by == ["untick Retain Device Identity"]


def test_full_dates_leave_the_planted_dates_and_times():
    result = deid_run_compute(
        variant="declared", options=ProfileOptions(retain_full_dates=True, clean_pixel_data=True)
    )
    assert where(v.leak for v in result.leaks) == {
        ("dates", p) for p in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")
    } | {("times", p) for p in ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime")}


def test_a_hand_made_incomplete_deidentification_is_caught_everywhere():
    """Only the top-level name and ID blanked, as a naive script would: the verifier finds the
    name and MRN in free text, the private block, the sequence items and the pixels."""
    seeded = seeded_study_build()
    ds = copy.deepcopy(seeded.dataset)
    ds.PatientName = ""
    ds.PatientID = ""
    leaks = where(leaks_find(ds, seeded=seeded, dates_retained=False))
    assert ("patient_name", "PatientName") not in leaks
    assert {
        ("patient_name", "ImageComments"),
        ("patient_name", "(0033,1010)"),
        ("patient_id", "(0033,1011)"),
        ("other_patient_ids", "OtherPatientIDsSequence[1].PatientID"),
        ("accession", "RequestAttributesSequence[0].AccessionNumber"),
        ("burned_in", PIXEL_DATA),
        ("uids", "StudyInstanceUID"),
        ("dates", "StudyDate"),
    } <= leaks


def test_an_unplanted_real_date_counts_as_a_leak_when_dates_are_not_retained():
    seeded = seeded_study_build()
    ds = copy.deepcopy(seeded.dataset)
    ds.InstanceCreationDate = "20240312"
    leaks = leaks_find(ds, seeded=seeded, dates_retained=False)
    assert ("any_date", "InstanceCreationDate") in where(leaks)
    assert ("any_date", "InstanceCreationDate") not in where(
        leaks_find(ds, seeded=seeded, dates_retained=True)
    )


def test_a_leak_no_option_removes_is_sent_to_a_person():
    """A name typed into an attribute no rule of the profile touches: no option helps."""
    seeded = seeded_study_build()
    seeded.dataset.PositionReferenceIndicator = "HALVORSEN"
    result_leaks = leaks_find(seeded.dataset, seeded=seeded, dates_retained=False)
    leak = next(lk for lk in result_leaks if lk.path == "PositionReferenceIndicator")
    [verdict] = leaks_with_remedies(
        seeded, options=ProfileOptions(clean_pixel_data=True), leaks=[leak]
    )
    assert verdict.removed_by == []


def test_the_diff_shows_each_attribute_before_and_after():
    result = deid_run_compute(variant="declared", options=ProfileOptions())
    rows = {row.path: row for row in result.diff}
    assert rows["PatientName"].change == "emptied"
    assert rows["(0033,1010)"].change == "removed"
    assert rows["OtherPatientIDsSequence[0].PatientID"].change == "removed"
    assert rows["KVP"].change == "kept"
    assert rows["StudyInstanceUID"].change == "changed"
    assert rows["PatientIdentityRemoved"].change == "added"
    # Same size, same display: the pixels are compared by content.
    assert rows["PixelData"].change == "kept"
    cleaned = deid_run_compute(variant="declared", options=ProfileOptions(clean_pixel_data=True))
    assert {row.path: row for row in cleaned.diff}["PixelData"].change == "changed"
    assert result.original_png[:4] == b"\x89PNG" and result.deidentified_png[:4] == b"\x89PNG"
