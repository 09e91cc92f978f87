"""Explainers: maps land where the evidence is, fail the sanity check when they should."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from zoo import ct_lesion
from zoo.base import (
    ClassificationOutput,
    ImageVolume,
    InputSpec,
    ModelCard,
    PreparedInput,
    Task,
    ZooModel,
)
from zoo.cohorts import ct_lesions
from zoo.explainers.registry import EXPLAINERS, UnknownExplainer, explainer_get
from zoo.explainers.sanity import randomisation_check, structural_similarity

SIDE = 64
# The top-left quadrant grown by the network's 2-pixel reach (two 3 x 3 convolutions): the
# pixels the class-1 logit can depend on.
EVIDENCE = np.s_[: SIDE // 2 + 2, : SIDE // 2 + 2]


class QuadrantGate(nn.Module):
    """A learned per-pixel gain: ones on the top-left quadrant, zeros elsewhere.

    The quadrant is in the weights, not the architecture, so scrambling them (the
    randomisation check) must move the evidence.
    """

    def __init__(self) -> None:
        super().__init__()
        gain = torch.zeros(1, 1, SIDE, SIDE)
        gain[..., : SIDE // 2, : SIDE // 2] = 1.0
        self.weight = nn.Parameter(gain)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features * self.weight


class QuadrantNet(nn.Module):
    """Two convolutions, the gate, a global mean and a two-class head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.gate = QuadrantGate()
        # No bias: outside the gate the features are exactly zero.
        self.features = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.ReLU())
        self.head = nn.Linear(4, 2)
        with torch.no_grad():
            self.stem[0].bias.fill_(0.1)
            self.features[0].weight.abs_()
            self.head.weight[1].copy_(torch.tensor([1.0, 0.5, 0.8, 1.2]))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.features(self.gate(self.stem(image)))
        return self.head(features.mean(dim=(2, 3)))


class QuadrantClassifier(ZooModel):
    """A 'CT' classifier whose class-1 logit depends on the top-left quadrant only."""

    key = "test-quadrant"
    title = "Quadrant classifier (test)"
    task = Task.CLASSIFICATION
    modality = "CT"
    input_spec = InputSpec(
        modalities=("CT",), dimensions=2, min_size=(SIDE, SIDE), max_size=(SIDE, SIDE)
    )
    saliency_layer = "features"

    def __init__(self) -> None:
        self._network = QuadrantNet().eval()

    def preprocess(self, volume: ImageVolume) -> PreparedInput:
        return PreparedInput(tensor=torch.from_numpy(volume.pixels[None] / 1000.0 + 1.0))

    def network(self) -> nn.Module:
        return self._network

    def postprocess(self, output: torch.Tensor, prepared: PreparedInput) -> ClassificationOutput:
        return ClassificationOutput(
            probabilities=output.softmax(1)[0].numpy(), class_names=("no", "yes")
        )

    def card(self) -> ModelCard:
        return ModelCard(intended_use="tests", training_data="", limitations="", licence="")


@pytest.fixture(scope="module")
def quadrant_model():
    return QuadrantClassifier()


@pytest.fixture(scope="module")
def soft_tissue_slice():
    """Soft tissue (~40 HU) with texture everywhere, so every quadrant has something."""
    rng = np.random.default_rng(1)
    return (40.0 + 60.0 * rng.standard_normal((SIDE, SIDE))).astype(np.float32)


def test_registry_finds_every_explainer_by_key():
    assert set(EXPLAINERS) == {"grad-cam", "integrated-gradients", "occlusion"}
    assert explainer_get("occlusion").key == "occlusion"
    with pytest.raises(UnknownExplainer):
        explainer_get("lime")
    for explainer in EXPLAINERS.values():
        assert len(explainer.explanation) > 200, explainer.key


@pytest.mark.parametrize("key", sorted(EXPLAINERS))
def test_map_is_on_the_image_grid_in_unit_range_and_on_the_evidence(
    key, quadrant_model, soft_tissue_slice
):
    saliency = explainer_get(key).explain(model=quadrant_model, image=soft_tissue_slice, target=1)
    values = saliency.values
    assert values.shape == soft_tissue_slice.shape and values.dtype == np.float32
    assert np.isfinite(values).all() and values.min() >= 0.0 and values.max() == 1.0
    assert saliency.target_index == 1 and np.isfinite(saliency.raw_sum)
    share = values[EVIDENCE].sum() / values.sum()
    # Occlusion patches straddle the quadrant's edge, so some mass leaks across it.
    assert share > (0.8 if key == "occlusion" else 0.95), share


@pytest.mark.parametrize("key", ["grad-cam", "integrated-gradients"])
def test_randomising_the_weights_destroys_the_map(key, quadrant_model, soft_tissue_slice):
    before = [p.detach().clone() for p in quadrant_model.network().parameters()]
    steps = randomisation_check(
        explainer=explainer_get(key), model=quadrant_model, image=soft_tissue_slice
    )
    assert [name for name, _, _ in steps] == ["head", "features", "gate", "stem"]
    rho = [spearman for _, spearman, _ in steps]
    ssim = [value for _, _, value in steps]
    assert np.isfinite(rho).all() and np.isfinite(ssim).all()
    # Scrambling the head and the last convolution leaves the gate (the learned "where"),
    # so the map still follows it; once the gate goes, the map no longer does.
    assert rho[0] > 0.8 and max(rho[2:]) < 0.5 and min(ssim[2:]) < 0.5, (rho, ssim)
    # The check works on a copy: the model's own weights are untouched.
    for old, new in zip(before, quadrant_model.network().parameters(), strict=True):
        assert torch.equal(old, new)


def test_ssim_is_one_for_identical_maps_and_low_for_unrelated_ones():
    rng = np.random.default_rng(0)
    first, second = rng.random((32, 32)), rng.random((32, 32))
    assert structural_similarity(first, first) == pytest.approx(1.0)
    assert structural_similarity(first, second) < 0.2


@pytest.fixture(scope="module")
def lesion_case():
    """The held-out case with the largest inserted lesion among a few (1.4 mm pixels)."""
    cohort = ct_lesions.cohort_ct_lesions_build(cases=8, held_out=True, seed=ct_lesion.TEST_SEED)
    biggest = int(np.argmax(cohort.masks.sum(axis=(1, 2))))
    image = ImageVolume.from_slice(
        image=cohort.images[biggest],
        modality="CT",
        pixel_spacing_mm=(ct_lesion.PIXEL_SPACING_MM, ct_lesion.PIXEL_SPACING_MM),
    )
    return image, cohort.masks[biggest]


def test_grad_cam_on_the_lesion_finder_peaks_on_the_inserted_lesion(lesion_case):
    image, mask = lesion_case
    model = ct_lesion.CtLesionFinder()
    saliency = explainer_get("grad-cam").explain(model=model, image=image)
    assert saliency.values.shape == mask.shape
    assert saliency.target == "the lesion-present logit"
    peak = np.unravel_index(np.argmax(saliency.values), mask.shape)
    # Within 3 pixels (4 mm): the bottleneck's cells are 4 pixels wide.
    near_lesion = ndimage.binary_dilation(mask, iterations=3)
    assert near_lesion[peak], (peak, np.argwhere(mask).mean(0))
    # Not a lucky pixel: the map is brighter on average near the lesion than elsewhere.
    assert saliency.values[near_lesion].mean() > 2 * saliency.values[~near_lesion].mean()


def test_each_explainer_gives_a_map_of_a_real_512_slice():
    # How long each takes is measured in bench/explain.py, against the model's own
    # prediction in the same run; here only what a resident sees: a whole, finite map that
    # shows something.
    source = ct_lesions.source_ct_load()
    level = source.hu.shape[0] // 2
    image = ImageVolume.from_slice(
        image=source.hu[level], modality="CT", pixel_spacing_mm=source.spacing_mm[1:]
    )
    model = ct_lesion.CtLesionFinder()
    for key, explainer in EXPLAINERS.items():
        saliency = explainer.explain(model=model, image=image)
        assert saliency.values.shape == source.hu.shape[1:], key
        assert np.isfinite(saliency.values).all(), key
        assert saliency.values.max() > saliency.values.min(), key


def _reference_attribution(key, *, model, image):
    """captum's own implementation, one step or one patch per pass (the unbatched path the
    batched explainers replaced), on the same prepared input and score."""
    from captum.attr import IntegratedGradients as CaptumIntegratedGradients
    from captum.attr import Occlusion as CaptumOcclusion

    from zoo.explainers import integrated_gradients, occlusion
    from zoo.explainers.base import explanation_input

    prepared = explanation_input(model=model, image=image)
    score, _ = prepared.score(None)
    inputs, baseline = prepared.inputs, prepared.baseline
    if key == "integrated-gradients":
        steps = integrated_gradients.STEPS
        reference = CaptumIntegratedGradients(score).attribute(
            inputs,
            baselines=baseline,
            n_steps=steps,
            method="riemann_trapezoid",
            internal_batch_size=1,
        )
        # captum's trapezoid weights sum to (steps - 1) / steps; ours sum to 1.
        reference = reference * steps / (steps - 1)
    else:
        (patch_rows, stride_rows), (patch_columns, stride_columns) = (
            occlusion.occlusion_patch(inputs.shape[-2]),
            occlusion.occlusion_patch(inputs.shape[-1]),
        )
        channels = inputs.shape[1]
        reference = CaptumOcclusion(score).attribute(
            inputs,
            sliding_window_shapes=(channels, patch_rows, patch_columns),
            strides=(channels, stride_rows, stride_columns),
            baselines=baseline,
            perturbations_per_eval=1,
        )
    batched = explainer_get(key).attribute(
        score=score, layer=prepared.layer, inputs=inputs, baseline=baseline
    )
    return batched.detach(), reference[0].sum(0).detach()


@pytest.mark.parametrize("key", ["integrated-gradients", "occlusion"])
def test_batched_explainers_match_captums_one_pass_at_a_time(key, lesion_case):
    # The lesion finder's real weights on a real held-out CT case: the batched passes
    # (several of IG's steps or occluded copies at once) give captum's numbers.
    # Tolerance: 0.1 % of the map's largest value. A batch goes through other float32
    # kernels (and summation orders) than a batch of one, and gradients through ReLUs near
    # zero magnify that: a clean-clone CI run under load differed by 2.6e-4 of the scale,
    # where 1e-5 had held on quieter runs. A heat map drawn in 256 colour levels cannot show
    # a difference under 0.4 % of its range; a wrong step weight or patch shifts it by whole
    # percents.
    image, _ = lesion_case
    model = ct_lesion.CtLesionFinder()
    batched, reference = _reference_attribution(key, model=model, image=image)
    scale = float(reference.abs().max())
    assert scale > 0
    assert torch.allclose(batched, reference, rtol=1e-3, atol=1e-3 * scale), float(
        (batched - reference).abs().max() / scale
    )


def test_explainers_sharing_one_prepared_image_give_the_maps_they_give_alone(
    quadrant_model, soft_tissue_slice
):
    from zoo.explainers.base import explanation_input

    prepared = explanation_input(model=quadrant_model, image=soft_tissue_slice)
    for key, explainer in EXPLAINERS.items():
        alone = explainer.explain(model=quadrant_model, image=soft_tissue_slice, target=1)
        shared = explainer.explain(
            model=quadrant_model, image=soft_tissue_slice, target=1, prepared=prepared
        )
        np.testing.assert_allclose(shared.values, alone.values, atol=1e-6, err_msg=key)


def test_the_cascade_scrambles_the_lesion_finder_block_by_block(lesion_case):
    # Nine blocks (encoder, bottleneck, decoder stages and heads), output end first, not
    # the 24 weighted layers one by one; Grad-CAM's map no longer follows the lesion
    # once the blocks up to its layer are scrambled.
    from zoo.explainers.sanity import blocks_top_down

    image, _ = lesion_case
    model = ct_lesion.CtLesionFinder()
    blocks = blocks_top_down(model.network())
    assert [name for name, _ in blocks][:3] == [
        "network.case_head",
        "network.mask_head",
        "network.decoder1",
    ]
    assert blocks[-1][0] == "network.encoder1" and len(blocks) == 9
    assert sum(len(layers) for _, layers in blocks) == 24
    steps = randomisation_check(explainer=explainer_get("grad-cam"), model=model, image=image)
    assert len(steps) == 9
    rho = [spearman for _, spearman, _ in steps]
    assert min(rho) < 0.5, rho
