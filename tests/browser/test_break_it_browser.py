"""A resident runs a break-it lab on the library's chest CT from the lesson page, in
Chromium, through the live server and a real worker, and sees original and perturbed side
by side with the change in the model's output and the saliency maps."""

import pytest
from playwright.sync_api import expect

from labs.models import LabRun, LabRunStatus
from tests.browser.session import log_in
from tests.labs_tests import lab_support
from tests.labs_tests.lab_support import (
    exercise_make,
    lesson_embed,
    library_index,
    offer,
    question,
)

chest_ct_library = lab_support.chest_ct_library  # the session's built library (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_resident_breaks_the_model_and_sees_both_sides(
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
    exercise = exercise_make(
        title="Noise on the chest CT",
        study_key="chest-ct",
        slice_default=70,
        perturbations=[offer("gaussian-noise", 0, 300, 120), offer("fgsm", 0, 20, 5)],
        explainer_keys=["grad-cam"],
        questions=[question("Which tissue changed label first?", "q-first")],
    )
    lesson_embed(demo_lesson, exercise)
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(live_server.url + demo_lesson.url)
    panel = page.locator(f"#lab-{exercise.pk}")
    panel.scroll_into_view_if_needed()
    expect(panel.locator('a[href="/labs/models/ct-tissue/"]')).to_be_visible()
    panel.get_by_label("Perturbation").select_option("gaussian-noise")
    panel.get_by_label("Severity").fill("200")
    panel.get_by_label("Image (1–133)").fill("64")
    panel.screenshot(path=screenshot_dir / "1-lab-form.png")
    panel.get_by_role("button", name="Run the lab").click()
    page.wait_for_url("**/labs/runs/*/")
    page.screenshot(path=screenshot_dir / "2-progress.png", full_page=True)

    # The page polls; when the run ends it reloads itself with the result.
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=120_000)
    page.wait_for_load_state("networkidle")
    titles = page.locator(".lab-viewer-title")
    assert [titles.nth(i).inner_text() for i in range(titles.count())] == [
        "Original",
        "Perturbed",
    ]
    viewers = page.locator(".lab-viewer [data-viewer]")
    assert viewers.count() == 2
    assert viewers.nth(0).get_attribute("data-link") == viewers.nth(1).get_attribute("data-link")
    if viewers.nth(0).get_attribute("data-image-urls") is not None:
        # The viewer reads the run's derived DICOM (once the viewer supports image_urls).
        for index in range(2):
            viewers.nth(index).locator("xpath=self::*[@data-state='ready']").wait_for(
                timeout=60_000
            )
    expect(page.get_by_role("rowheader", name="pixels relabelled (%)")).to_be_visible()
    expect(
        page.get_by_role("rowheader", name="largest pixel change (modality units)")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Read the model card")).to_be_visible()
    page.screenshot(path=screenshot_dir / "3-result.png", full_page=True)

    grad_cam = page.locator(".lab-saliency img")
    assert grad_cam.count() == 2
    for index in range(2):
        _wait_loaded_at_512(page, grad_cam.nth(index))
    page.get_by_text("Still pictures").click()
    stills = page.locator(".lab-pictures img")
    assert stills.count() == 4
    for index in range(4):
        stills.nth(index).scroll_into_view_if_needed()
        _wait_loaded_at_512(page, stills.nth(index))
    page.screenshot(path=screenshot_dir / "4-stills-and-saliency.png", full_page=True)

    page.get_by_label("Which tissue changed label first?").fill("Fat became soft tissue.")
    page.get_by_role("button", name="Save answers").click()
    expect(page.get_by_text("Your answers were saved with this run.")).to_be_visible()
    run = LabRun.objects.get(user=people["resident"])
    assert run.status == LabRunStatus.SUCCEEDED
    assert run.parameters["slice_number"] == 64 and run.parameters["severity"] == 200.0
    assert run.answers["q-first"]["answer"] == "Fat became soft tissue."


def _wait_loaded_at_512(page, image) -> None:
    """A result picture arrives after the fragment that names it: wait until the browser
    has it, and fail (time out) unless it is 512 pixels wide."""
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 512",
        arg=image.element_handle(),
        timeout=30_000,
    )
