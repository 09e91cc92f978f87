"""A resident runs an explain lab on the library's chest CT from the lesson page, in
Chromium, through the live server and a real worker: unticks the explainers they do not
want, and reads the maps of the original and the noisy image and the randomisation check."""

import pytest

from labs.models import LabRun, LabRunStatus
from tests.browser.session import log_in
from tests.labs_tests import lab_support
from tests.labs_tests.lab_support import exercise_make, lesson_embed, library_index, offer

chest_ct_library = lab_support.chest_ct_library  # the session's built library (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_resident_explains_the_model_with_the_explainers_they_keep(
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
        title="Explain the tissue model on the chest CT",
        kind="explain",
        study_key="chest-ct",
        slice_default=70,
        perturbations=[offer("gaussian-noise", 0, 200, 80)],
        explainer_keys=["grad-cam", "integrated-gradients", "occlusion"],
    )
    lesson_embed(demo_lesson, exercise)
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(live_server.url + demo_lesson.url)
    panel = page.locator(f"#lab-{exercise.pk}")
    panel.scroll_into_view_if_needed()
    explainers = panel.get_by_role("group", name="Explainers")
    for title in ("Grad-CAM", "Integrated Gradients", "Occlusion"):
        assert explainers.get_by_label(title).is_checked()
    explainers.get_by_label("Integrated Gradients").uncheck()
    explainers.get_by_label("Occlusion").uncheck()
    panel.locator(f"#severity-{exercise.pk}").fill("120")
    panel.screenshot(path=screenshot_dir / "1-explain-form.png")
    panel.get_by_role("button", name="Run the lab").click()
    page.wait_for_url("**/labs/runs/*/")

    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=300_000)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=screenshot_dir / "2-explain-result.png", full_page=True)
    sections = page.locator(".lab-saliency h2")
    assert [sections.nth(i).inner_text() for i in range(sections.count())] == ["Grad-CAM"]
    captions = page.locator(".lab-saliency figcaption")
    assert [captions.nth(i).inner_text() for i in range(captions.count())] == [
        "Grad-CAM, original",
        "Grad-CAM, perturbed",
        "Grad-CAM, top block scrambled",
        "Grad-CAM, all blocks scrambled",
    ]
    check = page.locator(".lab-sanity")
    assert "Weight-randomisation check with Grad-CAM" in check.locator("caption").inner_text()
    assert check.locator("tbody tr").count() >= 2
    run = LabRun.objects.get(user=people["resident"])
    assert run.status == LabRunStatus.SUCCEEDED
    assert run.parameters["explainer_keys"] == ["grad-cam"]
    assert run.parameters["perturbation_key"] == "gaussian-noise"
    assert run.parameters["severity"] == 120.0
