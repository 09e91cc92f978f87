"""The project's radiograph model: committed weights still reach the recorded metrics."""

import json

import numpy as np
import pytest

from zoo import cxr_nodule
from zoo.cohorts import radiographs
from zoo.weights_files import file_sha256


def test_committed_weights_reach_the_recorded_held_out_metrics():
    recorded = json.loads(cxr_nodule.METRICS_PATH.read_text())
    assert recorded["weights_sha256"] == file_sha256(cxr_nodule.WEIGHTS_PATH)
    measured = cxr_nodule.evaluate(
        network=cxr_nodule._network_load(),
        cohort=cxr_nodule.held_out_cohort(),
        real_radiograph=None,  # the real film is checked by zoo_build, not needed here
    )
    by_key = {(row["name"], row["group"]): row["value"] for row in measured}
    for row in recorded["measured"]:
        if (row["name"], row["group"]) in by_key:
            assert by_key[(row["name"], row["group"])] == pytest.approx(row["value"], abs=0.01)


def test_projection_is_deterministic_and_nodules_add_attenuation():
    first = radiographs.cohort_radiographs_build(cases=6, held_out=True, seed=2)
    second = radiographs.cohort_radiographs_build(cases=6, held_out=True, seed=2)
    assert np.array_equal(first.images, second.images)
    assert first.images.min() >= 0 and first.images.max() <= 1
    nodule = radiographs.nodule_projection(
        centre_pixel=(60.0, 40.0), diameter_mm=20.0, excess_mu=0.017
    )
    # A 20 mm sphere: the chord through its centre is 20 mm (softened by the margin).
    assert nodule.max() == pytest.approx(0.017 * 20.0, rel=0.1)
    assert nodule[0, 0] == 0
