"""bench/capacity.py is a benchmark, not a test: what is checked here is only that its
arguments are read as documented and that its locust user reads a lab form the way the
lesson template writes it. Importing locust monkey-patches the standard library (gevent),
so the locustfile is imported in a child process, never in the test process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.capacity import arguments, step_holds

ROOT = Path(__file__).resolve().parent.parent


def test_arguments_default_and_custom():
    defaults = arguments([])
    assert defaults.steps == [5, 10, 20, 40, 80]
    assert defaults.think == [3.0, 8.0]
    custom = arguments(["--steps", "2,4", "--think", "0,1", "--step-seconds", "30"])
    assert (custom.steps, custom.think, custom.step_seconds) == ([2, 4], [0.0, 1.0], 30)


@pytest.mark.parametrize("bad", [["--steps", "10,5"], ["--steps", "0,5"], ["--think", "5,1"]])
def test_arguments_refuse_nonsense(bad):
    with pytest.raises(SystemExit):
        arguments(bad)


def test_a_step_holds_only_when_both_goals_hold():
    assert step_holds({"page_p95_s": 0.9, "lab_p95_s": 4.9})
    assert not step_holds({"page_p95_s": 1.0, "lab_p95_s": 1.0})
    assert not step_holds({"page_p95_s": 0.2, "lab_p95_s": 5.0})
    assert not step_holds({"page_p95_s": 0.2, "lab_p95_s": None})  # no lab finished


LAB_FORM = """
<form method="post" action="/labs/exercises/5/runs/" class="lab-form">
  <input type="hidden" name="csrfmiddlewaretoken" value="tok">
  <input type="hidden" name="lesson_id" value="13">
  <input type="hidden" name="perturbation_key" value="left-right-flip">
  <input id="severity-5" name="severity" type="number" step="any"
         min="0.0" max="1.0" value="1.0" required>
  <input id="slice-5" name="slice_number" type="number" min="1" max="133" step="1" value="67">
  <button type="submit">Run the lab</button>
</form>
"""


def test_the_locust_resident_reads_a_lab_form_as_a_browser_submits_it():
    script = (
        "import json, sys\n"
        "from bench.capacity_locustfile import LabForm, Resident\n"
        "page = sys.stdin.read()\n"
        "assert LabForm.in_page(page, exercise=6) is None\n"
        "form = LabForm.in_page(page, exercise=5)\n"
        "print(json.dumps([form.action, form.data(), form.slice_range, Resident.__name__]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        input=LAB_FORM,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    action, data, slice_range, user_class = json.loads(done.stdout.strip().splitlines()[-1])
    assert action == "/labs/exercises/5/runs/"
    assert data["lesson_id"] == "13"
    assert data["perturbation_key"] == "left-right-flip"
    assert data["severity"] == "1.0"
    assert slice_range == [1, 133]
    assert 1 <= int(data["slice_number"]) <= 133
    assert user_class == "Resident"
