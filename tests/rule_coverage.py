"""A pytest plugin: which access rules (accounts.permissions) the role matrix asks.

While a test of tests/test_role_matrix.py runs, every rule and filter asked is recorded
through the registry's observer hook; tests/test_rule_coverage.py then checks that every
registered name was asked, so a rule that no URL reaches (dead, or a URL missing from the
matrix) is noticed. Registered in tests/conftest.py's `pytest_plugins`.
"""

from __future__ import annotations

import pytest

from accounts import permissions

MATRIX_MODULE = "tests/test_role_matrix.py"


class RuleCoverage:
    def __init__(self) -> None:
        self.asked: set[tuple[str, str]] = set()  # ("rule" | "filter", name)
        self.matrix_tests_run: set[str] = set()  # node ids of matrix tests that ran
        self._recording = False

    def observe(self, kind: str, name: str) -> None:
        if self._recording:
            self.asked.add((kind, name))

    def recording(self):
        coverage = self

        class _Recording:
            def __enter__(self):
                coverage._recording = True

            def __exit__(self, *_exc):
                coverage._recording = False

        return _Recording()


_coverage = RuleCoverage()


def pytest_configure(config):
    permissions.add_observer(_coverage.observe)


def pytest_unconfigure(config):
    permissions.remove_observer(_coverage.observe)


def pytest_collection_modifyitems(items):
    """The coverage check runs after the matrix, so it can read what the matrix asked."""
    last = [item for item in items if item.nodeid.startswith("tests/test_rule_coverage.py")]
    items[:] = [item for item in items if item not in last] + last


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if item.nodeid.startswith(MATRIX_MODULE + "::test_role_matrix["):
        with _coverage.recording():
            result = yield
        _coverage.matrix_tests_run.add(item.nodeid)
        return result
    return (yield)


@pytest.fixture
def rule_coverage() -> RuleCoverage:
    return _coverage
