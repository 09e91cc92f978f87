"""The seeded study is honest: every planted value is where the list says, and nowhere else."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from deid_lab import seeding
from deid_lab.computation import dataset_bytes
from deid_lab.header_table import header_rows
from deid_lab.seeding import PIXEL_DATA, SEEDED_PHI, seeded_study_build
from deid_lab.verification import burned_in_contrast, leaks_find
from studies.deidentify import ProfileOptions, UidMap, dataset_deidentify


def _value_at(ds, path: str) -> str:
    """The text of the element at a deidentify-style path ("Seq[0].Keyword", "(gggg,eeee)")."""
    current = ds
    parts = path.split(".")
    for part in parts[:-1]:
        keyword, index = part[:-1].split("[")
        current = current[keyword][int(index)]
    last = parts[-1]
    if last.startswith("("):
        tag = int(last.strip("()").replace(",", ""), 16)
        return str(current[tag].value)
    return str(current[last].value)


@pytest.mark.parametrize(
    "item", [i for i in SEEDED_PHI if i.match != "pixels"], ids=lambda i: i.key
)
def test_every_planted_value_is_where_the_list_says(item):
    ds = seeded_study_build().dataset
    for location in item.locations:
        if location == PIXEL_DATA:
            continue
        text = _value_at(ds, location)
        if item.match == "uid_root":
            assert text.startswith(seeding.SEEDED_UID_ROOT + "."), location
        elif item.match == "date":
            spelled = {"20240311": "11/03/2024"}
            assert any(n in text or spelled.get(n, "?") in text for n in item.needles), location
        else:
            assert any(n.lower() in text.lower() for n in item.needles), (location, text)


def test_the_verifier_finds_exactly_the_planted_locations_in_the_seeded_study():
    """Scanning the untouched study finds every listed location and no unlisted one, so a
    resident is never scored against a leak the list does not know."""
    seeded = seeded_study_build()
    found = {
        (leak.item_key, leak.path)
        for leak in leaks_find(seeded.dataset, seeded=seeded, dates_retained=False)
    }
    listed = {(item.key, location) for item in SEEDED_PHI for location in item.locations}
    assert found == listed


def test_every_planted_location_is_a_row_of_the_header_table():
    rows = {row.path for row in header_rows(seeded_study_build().dataset)}
    for item in SEEDED_PHI:
        assert set(item.locations) <= rows, item.key


def test_name_and_mrn_are_burned_into_the_top_left_corner():
    seeded = seeded_study_build()
    pixels = seeded.dataset.pixel_array
    rows, columns = np.nonzero(seeded.text_mask)
    assert rows.max() < pixels.shape[0] * 0.3 and columns.max() < pixels.shape[1] * 0.6
    assert (pixels[seeded.text_mask] == seeding.BURNED_IN_STORED_VALUE).all()
    # Brighter than any tissue of the real slice, as a modality burns text at full white.
    assert pixels[~seeded.text_mask].max() < seeding.BURNED_IN_STORED_VALUE
    assert burned_in_contrast(pixels, seeded=seeded) == pytest.approx(1.0)


@pytest.mark.parametrize(("variant", "flag"), [("declared", "YES"), ("undeclared", "NO")])
def test_the_burned_in_annotation_flag_is_the_variant_and_the_pixels_are_the_same(variant, flag):
    seeded = seeded_study_build(variant=variant)
    assert seeded.dataset.BurnedInAnnotation == flag
    assert np.array_equal(seeded.dataset.pixel_array, seeded_study_build().dataset.pixel_array)


def test_the_seeded_study_is_the_same_on_every_build():
    assert dataset_bytes(seeded_study_build().dataset) == dataset_bytes(
        seeded_study_build().dataset
    )


def _dciodvfy_errors(path) -> list[str]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    return [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip().startswith("Error")
    ]


@pytest.mark.parametrize(
    "options",
    [
        None,
        ProfileOptions(),
        ProfileOptions(
            clean_descriptors=True,
            clean_pixel_data=True,
            retain_safe_private=True,
            date_offset_days=-200,
        ),
    ],
    ids=["seeded", "basic", "options"],
)
def test_seeded_and_deidentified_instances_pass_dciodvfy(options, tmp_path):
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy not installed: apt-get install dicom3tools")
    ds = seeded_study_build().dataset
    if options is not None:
        dataset_deidentify(ds, uid_map=UidMap(namespace="t"), options=options)
    path = tmp_path / "instance.dcm"
    path.write_bytes(dataset_bytes(ds))
    assert _dciodvfy_errors(path) == []
