"""A pytest plugin: how `make test` spreads the suite over its pytest-xdist workers.

`make test` runs `--dist loadfile`: a file's tests run in one worker, so a module's fixtures
(the role matrix's world, a module's real model) are built once. This plugin refines it:

- SPLIT tests are units of their own. They are independent and each long (a world
  committed for a live server, a worker killed and replaced): kept in one unit, one worker
  would run them all in a row while the others wait.
- TOGETHER files run in the worker of another file, after it: the rule-coverage check
  then reads what the role matrix asked in that process instead of walking it again.
- Units are handed out longest first (the longest-processing-time rule), so no long unit
  starts last while the other workers run out of work. xdist's own order counts tests,
  which puts a file of a few long browser tests at the very end. A unit's length is
  estimated from the kind of its tests (COST); the `--durations` list every run prints
  is the data for revising it.

Within a unit the tests keep the order pytest-django and the other plugins gave them. A
run in one process (`-n 0`) keeps pytest's usual order. (xdist's `--dist loadgroup` would
express the groups as marks, but its node-id suffix has no effect under pytest 9.)
"""

from __future__ import annotations

import pytest

SPLIT = (
    "tests/browser/test_accessibility.py::",
    "tests/runs_tests/test_run_contract.py::test_a_killed_worker_s_run_finishes_once",
)
TOGETHER = {"tests/test_rule_coverage.py": "tests/test_role_matrix.py"}

# Rough seconds per test on the 2-core machine, by kind: only their ratios matter.
COST = {"browser": 20.0, "integration": 20.0, "transactional": 6.0, "other": 0.5}


def unit_of(nodeid: str) -> str:
    """The work unit a test belongs to: its file, its own node id, or its partner's file."""
    if nodeid.startswith(SPLIT):
        return nodeid
    path = nodeid.split("::", 1)[0]
    return TOGETHER.get(path, path)


def _transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction")) or any(
        name in item.fixturenames for name in ("transactional_db", "live_server")
    )


def cost_of(item: pytest.Item) -> float:
    for kind in ("browser", "integration"):
        if item.get_closest_marker(kind):
            return COST[kind]
    return COST["transactional"] if _transactional(item) else COST["other"]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """In a worker, after every other plugin has ordered the tests: units, longest first.

    The controller schedules in the order the workers collected, unit by unit."""
    if not hasattr(config, "workerinput"):
        return  # one process: pytest's usual order
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        units.setdefault(unit_of(item.nodeid), []).append(item)
    cost = {unit: sum(cost_of(item) for item in members) for unit, members in units.items()}
    first_seen = {unit: index for index, unit in enumerate(units)}
    ordered = sorted(units, key=lambda unit: (-cost[unit], first_seen[unit]))
    items[:] = [item for unit in ordered for item in units[unit]]


def pytest_xdist_make_scheduler(config, log):
    """Under `--dist loadfile`, the units above in the workers' order; else xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class UnitScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False  # the workers' order is already longest first
    return UnitScheduling(config, log)
