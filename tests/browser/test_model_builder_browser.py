"""A resident builds a model without code in Chromium, through the live server and a
real worker: chooses a tiny configuration, watches it train, reads the evaluation and the
generated model card."""

import pytest
from django.template.defaultfilters import floatformat
from playwright.sync_api import expect

from model_builder.models import TrainingRun, TrainingRunStatus
from tests.browser.session import log_in, nav_follow

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_resident_builds_a_model_and_reads_its_card(
    live_server, celery_worker, people, browser_page, screenshot_dir
):
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(live_server.url + "/labs/runs/")
    nav_follow(page, "Labs", "Build a model")
    expect(page.get_by_role("heading", name="Build a model without code")).to_be_visible()

    page.get_by_label("Name your model").fill("My first lesion finder")
    page.get_by_label("Patients (lesion cohort)").fill("20")
    page.get_by_label("By patient").check()
    page.get_by_label("Added noise").uncheck()
    page.get_by_label("Small (73 k weights, fast)").check()
    page.get_by_label("Epochs").fill("2")
    page.get_by_label("Learning rate").select_option("fast")
    page.screenshot(path=screenshot_dir / "1-choices.png", full_page=True)
    page.get_by_role("button", name="Start training").click()

    page.wait_for_url("**/build/runs/*/")
    page.screenshot(path=screenshot_dir / "2-training.png", full_page=True)
    # htmx polls the status fragment; the evaluation replaces the progress bar when done.
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=180_000)
    curves = page.get_by_role("img", name="Learning curves")
    # The picture loads after the fragment that names it: wait for it, then check its size.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth >= 400",
        arg=curves.element_handle(),
        timeout=30_000,
    )
    assert "2 of 2 epochs done" in curves.get_attribute("alt")
    metrics = page.locator("#held-out-metrics")
    expect(metrics.get_by_role("rowheader", name="AUC")).to_be_visible()
    expect(page.locator("#confusion-matrix").get_by_text("Truly positive")).to_be_visible()
    expect(page.get_by_text("No patient is on both sides of the split.")).to_be_visible()
    page.screenshot(path=screenshot_dir / "3-evaluated.png", full_page=True)

    run = TrainingRun.objects.get(user=people["resident"])
    assert run.status == TrainingRunStatus.SUCCEEDED
    assert run.config["augmentations"] == ["flip", "rotate", "intensity"]
    # As the page rounds it (floatformat rounds half up: an AUC of 0.0625 reads 0.063).
    auc_text = floatformat(run.metrics["test"]["auc"]["value"], 3)
    expect(metrics.get_by_role("cell", name=auc_text).first).to_be_visible()

    page.get_by_role("link", name="Model card").click()
    expect(
        page.get_by_role("heading", name="My first lesion finder (trained by rhea)")
    ).to_be_visible()
    expect(page.get_by_text("Teaching only")).to_be_visible()
    page.screenshot(path=screenshot_dir / "4-model-card.png", full_page=True)

    page.goto(live_server.url + "/build/leakage/")
    expect(
        page.locator("#leakage-table").get_by_role("link", name="My first lesion finder")
    ).to_be_visible()
    page.screenshot(path=screenshot_dir / "5-leakage.png", full_page=True)


def test_a_second_training_is_refused_with_a_clear_message(
    live_server, people, browser_page, screenshot_dir
):
    from model_builder import services
    from tests.model_builder_tests.support import TINY

    services.training_run_create(user=people["resident"], title="Still running", raw_config=TINY)
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(live_server.url + "/build/")
    page.get_by_label("Name your model").fill("Another one")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("One training at a time per person")).to_be_visible()
    assert page.get_by_label("Name your model").input_value() == "Another one"
    page.screenshot(path=screenshot_dir / "refused.png", full_page=True)
