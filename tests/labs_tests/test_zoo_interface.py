"""The zoo's one interface: typed outputs, input checks and weights errors a resident can read."""

import pickle

import numpy as np
import pytest
import torch

from labs.computation import IncompatibleInput, break_it_compute
from studies.selectors import study_series_load
from zoo.base import (
    ClassificationOutput,
    ImageVolume,
    InputMismatch,
    SegmentationOutput,
    SpecMismatch,
    Task,
    WeightsUnavailable,
)
from zoo.ct_lesion import LesionNet
from zoo.ct_tissue import TissueNet
from zoo.mr_brain_deepbet import from_ras, to_ras
from zoo.registry import MODELS, model_get
from zoo.series import volume_from_datasets
from zoo.weights_files import state_dict_load, torchscript_load


@pytest.fixture(scope="module")
def ct_slice():
    return study_series_load(study_key="ct-small").pixels[0]


def test_every_model_declares_task_inputs_and_saliency_layer():
    assert {"ct-tissue", "ct-lesion", "cxr-nodule", "mr-brain-deepbet"} <= set(MODELS)
    for model in MODELS.values():
        assert isinstance(model.task, Task)
        assert model.modality in model.input_spec.modalities
        assert model.input_spec.description
        assert model.saliency_layer, model.key


def test_ct_lesion_returns_mask_case_probability_and_boxes(ct_slice):
    output = model_get("ct-lesion").predict(ct_slice, pixel_spacing_mm=(0.66, 0.66))
    assert isinstance(output, SegmentationOutput)
    assert output.labels.shape == ct_slice.shape
    assert output.case is not None and output.case.class_names == ("no lesion", "lesion")
    assert output.case.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert output.findings is not None
    assert output.findings.boxes.shape == (len(output.findings.labels), 4)


def test_cxr_model_returns_class_probabilities():
    film = np.random.default_rng(0).random((200, 180)).astype(np.float32)
    output = model_get("cxr-nodule").predict(
        ImageVolume.from_slice(image=film, modality="CR", pixel_spacing_mm=(0.2, 0.2))
    )
    assert isinstance(output, ClassificationOutput)
    assert output.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_saliency_layer_resolves_to_a_module():
    for key in ("ct-tissue", "ct-lesion", "cxr-nodule"):
        assert isinstance(model_get(key).saliency_module(), torch.nn.Module)


def test_wrong_modality_is_refused_in_words(ct_slice):
    mr = ImageVolume.from_slice(image=ct_slice, modality="MR")
    with pytest.raises(InputMismatch, match="reads CT"):
        model_get("ct-lesion").predict(mr)


def test_wrong_geometry_is_refused_in_words(ct_slice):
    with pytest.raises(InputMismatch, match="one image at a time"):
        model_get("ct-lesion").predict(
            ImageVolume(pixels=np.stack([ct_slice] * 3), spacing_mm=(1, 1, 1), modality="CT")
        )
    with pytest.raises(InputMismatch, match="pixels of"):
        model_get("ct-lesion").predict(ct_slice, pixel_spacing_mm=(9.0, 9.0))
    with pytest.raises(InputMismatch, match="at least 16 slices"):
        model_get("mr-brain-deepbet").predict(
            ImageVolume(
                pixels=np.zeros((3, 64, 64), np.float32), spacing_mm=(1, 1, 1), modality="MR"
            )
        )
    with pytest.raises(InputMismatch, match="finite"):
        model_get("ct-tissue").predict(np.full((32, 32), np.nan, dtype=np.float32))


def test_break_it_lab_reports_a_mismatched_model_instead_of_crashing():
    with pytest.raises(IncompatibleInput):
        break_it_compute(
            study_key="ct-small",
            model_key="cxr-nodule",
            perturbation_key="gaussian-noise",
            severity=10,
            seed=0,
        )


def test_corrupt_and_hostile_weights_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a weights file at all")
    with pytest.raises(WeightsUnavailable, match="damaged"):
        state_dict_load(network=TissueNet(), path=garbage, model_title="Test model")
    with pytest.raises(WeightsUnavailable, match="TorchScript"):
        torchscript_load(path=garbage, sha256=None, model_title="Test model")
    with pytest.raises(WeightsUnavailable, match="checksum"):
        torchscript_load(path=garbage, sha256="0" * 64, model_title="Test model")
    with pytest.raises(WeightsUnavailable, match="not installed"):
        state_dict_load(network=TissueNet(), path=tmp_path / "absent.pt", model_title="Test")
    # A pickle that would run code on load: weights_only refuses it.
    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(WeightsUnavailable):
        state_dict_load(network=TissueNet(), path=hostile, model_title="Test model")


def test_weights_of_another_network_are_a_spec_mismatch(tmp_path):
    other = tmp_path / "other.pt"
    torch.save(LesionNet().state_dict(), other)
    with pytest.raises(SpecMismatch, match="different network layout"):
        state_dict_load(network=TissueNet(), path=other, model_title="Test model")


def test_ras_conversion_round_trips():
    volume = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    assert to_ras(volume).shape == (4, 3, 2)
    assert np.array_equal(from_ras(to_ras(volume)), volume)


def test_dicom_series_is_sorted_and_monochrome1_inverted():
    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    volume = volume_from_datasets([dataset])
    assert volume.pixels.shape == (1, 128, 128)
    assert volume.modality == "CT"
    assert volume.pixels.min() < -800  # rescale applied: HU


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))
