import json

import numpy as np
import pytest

from studies.selectors import StudyNotFound, study_series_load
from zoo import ct_tissue
from zoo.perturbations.registry import PERTURBATIONS, UnknownPerturbation, perturbation_get
from zoo.registry import MODELS, UnknownModel, model_get


@pytest.fixture(scope="module")
def ct_slice():
    return study_series_load(study_key="ct-small").pixels[0]


def test_study_loads_in_hounsfield_units(ct_slice):
    assert ct_slice.shape == (128, 128)
    # Air outside the patient sits near -1000 HU, and the slice contains bone (> 250 HU).
    assert ct_slice.min() < -800
    assert ct_slice.max() > 250


@pytest.mark.django_db  # unknown study keys are looked up in the library index first
def test_unknown_keys_raise_lookup_errors():
    with pytest.raises(StudyNotFound):
        study_series_load(study_key="../etc/passwd")
    with pytest.raises(UnknownModel):
        model_get("resnet-imaginary")
    with pytest.raises(UnknownPerturbation):
        perturbation_get("cosmic-rays")


def test_committed_weights_reach_the_recorded_held_out_metrics(ct_slice):
    recorded = json.loads(ct_tissue.METRICS_PATH.read_text())
    measured = ct_tissue.evaluate(network=model_get("ct-tissue").network(), image_hu=ct_slice)
    for name, value in recorded.items():
        assert measured[name] == pytest.approx(value, abs=1e-6), name
    assert measured["mean dice"] > 0.9


def test_training_is_reproducible_with_a_fixed_seed(ct_slice):
    first = ct_tissue.train(image_hu=ct_slice, seed=3, steps=40)
    second = ct_tissue.train(image_hu=ct_slice, seed=3, steps=40)
    for name, tensor in first.state_dict.items():
        assert np.array_equal(tensor.numpy(), second.state_dict[name].numpy()), name


def test_model_is_worse_on_noisy_input_than_on_the_original(ct_slice):
    model = model_get("ct-tissue")
    reference = ct_tissue.reference_labels(ct_slice)
    clean = (model.predict(ct_slice).labels == reference).mean()
    noisy_image = perturbation_get("gaussian-noise").apply(ct_slice, severity=200, seed=1)
    noisy = (model.predict(noisy_image).labels == reference).mean()
    assert clean > 0.95
    assert noisy < clean - 0.1


@pytest.mark.parametrize("severity", [10.0, 50.0, 200.0])
def test_gaussian_noise_adds_the_requested_standard_deviation(ct_slice, severity):
    noisy = perturbation_get("gaussian-noise").apply(ct_slice, severity=severity, seed=7)
    difference = noisy - ct_slice
    assert abs(difference.mean()) < severity * 0.05
    assert difference.std() == pytest.approx(severity, rel=0.03)


def test_zero_severity_leaves_the_image_unchanged(ct_slice):
    for perturbation in PERTURBATIONS.values():
        unchanged = perturbation.apply(ct_slice, severity=perturbation.severity_min, seed=0)
        assert np.array_equal(unchanged, ct_slice), perturbation.key


def test_registries_are_keyed_by_their_members():
    assert all(key == model.key for key, model in MODELS.items())
    assert all(key == p.key for key, p in PERTURBATIONS.items())
