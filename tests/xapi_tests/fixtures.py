"""LRS fixtures, registered for every test directory in tests/conftest.py (the run-engine
contract in tests/runs_tests sends the outbox's statements to a real LRS too)."""

from __future__ import annotations

import pytest

from tests.xapi_tests.lrs import RalphLrs


@pytest.fixture(scope="session")
def ralph_session(tmp_path_factory):
    """One LRS for the tests that only need somewhere real to send to."""
    lrs = RalphLrs(tmp_path_factory.mktemp("ralph"))
    lrs.start()
    yield lrs
    lrs.stop()


def lrs_configure(lrs: RalphLrs, settings, monkeypatch) -> None:
    """Switch xAPI on for this test and for worker processes started after this."""
    values = {
        "XAPI_LRS_URL": lrs.url,
        "XAPI_LRS_USERNAME": lrs.username,
        "XAPI_LRS_PASSWORD": lrs.password,
        "XAPI_HOMEPAGE": "https://artefact.test",
    }
    for name, value in values.items():
        setattr(settings, name, value)
        monkeypatch.setenv(name, value)


@pytest.fixture
def xapi_on(ralph_session, settings, monkeypatch) -> RalphLrs:
    lrs_configure(ralph_session, settings, monkeypatch)
    return ralph_session
