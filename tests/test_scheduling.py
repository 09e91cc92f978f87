"""The xdist units of tests/scheduling.py still name real tests: a renamed file or test would
otherwise quietly fall back to running whole-file, last, in one worker."""

from __future__ import annotations

from pathlib import Path

from tests import scheduling

ROOT = Path(__file__).resolve().parents[1]


def test_every_split_and_together_entry_names_an_existing_test():
    for prefix in scheduling.SPLIT:
        path, _, name = prefix.partition("::")
        source = (ROOT / path).read_text()
        assert name == "" or f"def {name}" in source, prefix
    for path, partner in scheduling.TOGETHER.items():
        assert (ROOT / path).is_file() and (ROOT / partner).is_file(), path


def test_units():
    killed = (
        "tests/runs_tests/test_run_contract.py::"
        "test_a_killed_worker_s_run_finishes_once_on_another_worker[labs.LabRun]"
    )
    assert scheduling.unit_of(killed) == killed
    contract = "tests/runs_tests/test_run_contract.py::TestContract::test_x[labs.LabRun]"
    assert scheduling.unit_of(contract) == "tests/runs_tests/test_run_contract.py"
    axe = "tests/browser/test_accessibility.py::test_every_matrix_page_passes_axe[admin]"
    assert scheduling.unit_of(axe) == axe
    coverage = "tests/test_rule_coverage.py::test_every_registered_rule_is_exercised"
    assert scheduling.unit_of(coverage) == "tests/test_role_matrix.py"
