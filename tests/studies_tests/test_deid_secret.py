"""De-identification has its own key: never SECRET_KEY on a new installation, recorded
once, required in production, and an upgraded installation keeps its mapping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from studies.deid_secret import deid_secret
from studies.models import Study, StudyOrigin
from tests.test_errors_and_deploy import manage

CT_SMALL = Path(get_testdata_file("CT_small.dcm")).read_bytes()
BOUNDARY = "deid-secret-boundary"
STOW = "/dicomweb/studies"


def _stow(client, data: bytes):
    body = (
        f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return client.post(
        STOW,
        data=body,
        content_type=f'multipart/related; type="application/dicom"; boundary={BOUNDARY}',
        HTTP_ACCEPT="application/dicom+json",
    )


@pytest.fixture
def no_configured_secret(settings, tmp_path):
    """An installation without DEID_SECRET in its environment and nothing recorded yet."""
    settings.DEID_SECRET = ""
    settings.DEID_SECRET_FILE = tmp_path / "var" / "deid-secret"
    return settings.DEID_SECRET_FILE


@pytest.fixture
def educator_client(client, people, study_library):
    client.force_login(people["educator"])
    return client


def test_a_new_installation_records_its_own_random_secret_once(no_configured_secret, settings, db):
    first = deid_secret()
    assert first != settings.SECRET_KEY
    assert len(first) >= 40
    assert no_configured_secret.read_text().strip() == first
    assert deid_secret() == first  # kept, not generated again


def test_the_secret_keys_the_mapping(educator_client, settings):
    """Another key makes the same instance another study: the key is really what maps."""
    settings.DEID_SECRET = "one-installation-" + "a" * 40
    assert _stow(educator_client, CT_SMALL).status_code == 200
    settings.DEID_SECRET = "another-installation-" + "b" * 40
    assert _stow(educator_client, CT_SMALL).status_code == 200
    assert Study.objects.filter(origin=StudyOrigin.STOW).count() == 2


def test_an_upgraded_installation_keeps_its_mapping_and_a_study_sent_again_is_not_duplicated(
    educator_client, no_configured_secret, settings
):
    # Before the upgrade de-identification was keyed with SECRET_KEY.
    settings.DEID_SECRET = settings.SECRET_KEY
    assert _stow(educator_client, CT_SMALL).status_code == 200
    before = list(Study.objects.filter(origin=StudyOrigin.STOW).values_list("study_instance_uid"))
    assert len(before) == 1

    # The upgrade: no DEID_SECRET configured, nothing recorded; the same study arrives again.
    settings.DEID_SECRET = ""
    assert not no_configured_secret.exists()
    assert _stow(educator_client, CT_SMALL).status_code == 200

    after = list(Study.objects.filter(origin=StudyOrigin.STOW).values_list("study_instance_uid"))
    assert after == before
    assert no_configured_secret.read_text().strip() == settings.SECRET_KEY


def test_production_refuses_to_start_without_a_deid_secret(tmp_path):
    env = {
        **os.environ,
        "ARTEFACT_ENV": "production",
        "SECRET_KEY": "y" * 60,
        "ALLOWED_HOSTS": "artefact.example.org",
        "ARTEFACT_VAR_DIR": str(tmp_path),
    }
    env.pop("DEID_SECRET", None)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DEID_SECRET must be set" in result.stderr

    recorded = tmp_path / "deid-secret"
    recorded.write_text("z" * 60 + "\n")  # what an upgraded installation recorded
    assert manage("check", env=env).returncode == 0
