"""The project's CT lesion model: the cohort is deterministic and honest, the weights hold."""

import json

import numpy as np
import pytest

from zoo import ct_lesion
from zoo.cohorts import ct_lesions
from zoo.weights_files import file_sha256


@pytest.fixture(scope="module")
def held_out():
    return ct_lesion.held_out_cohort()


def test_committed_weights_reach_the_recorded_held_out_metrics(held_out):
    recorded = json.loads(ct_lesion.METRICS_PATH.read_text())
    assert recorded["weights_sha256"] == file_sha256(ct_lesion.WEIGHTS_PATH)
    measured = ct_lesion.evaluate(network=ct_lesion._network_load(), cohort=held_out)
    by_key = {(row["name"], row["group"]): row["value"] for row in measured}
    for row in recorded["measured"]:
        # Tolerance covers CPU thread-count rounding; a changed model or cohort moves more.
        assert by_key[(row["name"], row["group"])] == pytest.approx(row["value"], abs=0.01), row
    overall = {row["name"]: row for row in recorded["measured"] if not row["group"]}
    assert overall["AUC (lesion present)"]["low"] > 0.8
    assert overall["Dice (lesion cases)"]["value"] > 0.5


def test_cohort_is_deterministic_and_balanced():
    first = ct_lesions.cohort_ct_lesions_build(cases=24, held_out=True, seed=5)
    second = ct_lesions.cohort_ct_lesions_build(cases=24, held_out=True, seed=5)
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(first.masks, second.masks)
    assert set(first.scanner) == {scanner.name for scanner in ct_lesions.SCANNERS}
    assert first.images.shape == (24, ct_lesions.PATCH, ct_lesions.PATCH)
    # Negatives carry no mask; positives that survived clipping carry one.
    assert not first.masks[~first.has_lesion].any()
    assert all(mask.any() for mask in first.masks[first.has_lesion])


def test_inserted_lesion_stays_inside_its_organ_and_changes_hu():
    source = ct_lesions.source_ct_load()
    rng = np.random.default_rng(0)
    candidates = ct_lesions._candidate_centres("kidney", False)
    # A level with 4 slices either side, so the window below stays inside the volume.
    centre = tuple(int(v) for v in candidates[candidates[:, 0] >= 4][0])
    lesion = ct_lesions.lesion_sample(organ="kidney", centre=centre, rng=rng)
    window = np.s_[
        centre[0] - 4 : centre[0] + 5,
        centre[1] - 40 : centre[1] + 40,
        centre[2] - 40 : centre[2] + 40,
    ]
    organ = np.isin(source.labels[window], ct_lesions.KIDNEY_LABELS)
    hu, fraction = ct_lesions.lesion_insert(
        hu=source.hu[window].copy(),
        organ_mask=organ,
        origin=(centre[0] - 4, centre[1] - 40, centre[2] - 40),
        spacing_mm=source.spacing_mm,
        lesion=lesion,
        rng=rng,
    )
    assert fraction.max() > 0.9
    assert fraction[~organ].max() < 0.5  # never a lesion outside the kidney
    core = fraction > 0.95
    assert abs(float(hu[core].mean()) - lesion.hu) < 5


def test_held_out_levels_are_never_training_levels():
    training = ct_lesions._candidate_centres("lung", False)[:, 0]
    held = ct_lesions._candidate_centres("lung", True)[:, 0]
    assert not set(training) & set(held)


def test_training_is_reproducible_with_a_fixed_seed():
    cohort = ct_lesions.cohort_ct_lesions_build(cases=32, held_out=False, seed=3)
    silent = dict(progress=lambda message: None)
    first = ct_lesion.train(cohort=cohort, seed=1, epochs=1, **silent)
    second = ct_lesion.train(cohort=cohort, seed=1, epochs=1, **silent)
    for name, tensor in first.state_dict.items():
        assert np.array_equal(tensor.numpy(), second.state_dict[name].numpy()), name
