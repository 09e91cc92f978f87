"""Fixtures shared by the lab tests."""

import pytest


@pytest.fixture
def media(settings, tmp_path):
    """Uploads stored under this test's own directory, with a sandbox deadline that holds
    on a slow, busy machine."""
    settings.MEDIA_ROOT = tmp_path
    settings.ZOO_UPLOAD_TIMEOUT_SECONDS = 20
    return tmp_path
