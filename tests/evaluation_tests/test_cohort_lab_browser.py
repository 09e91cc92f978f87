"""A resident runs a robustness sweep in Chromium, then measures it at their own threshold."""

import pytest
from playwright.sync_api import expect

from evaluation.models import CohortRun
from tests.browser.session import log_in
from tests.evaluation_tests.support import cohort_exercise_make, lesson_embed

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _cell(page, name: str) -> str:
    return page.locator(f"td[data-measure='{name}']").first.inner_text()


def test_resident_sweeps_then_moves_the_threshold(
    live_server,
    celery_worker,
    demo_lesson,
    people,
    browser_page,
    screenshot_dir,
    settings,
):
    settings.EVALUATION_CASE_LIMIT = 12
    exercise = cohort_exercise_make(title="Noise sweep", severities="0, 300")
    lesson_embed(demo_lesson, exercise)
    page = browser_page
    log_in(page, live_server.url, people["resident"].username)
    page.goto(live_server.url + demo_lesson.url)
    expect(page.get_by_role("heading", name="Cohort lab: Noise sweep")).to_be_visible()
    page.get_by_role("button", name="Score the cohort").click()
    page.wait_for_url("**/evaluation/runs/*/")
    page.screenshot(path=screenshot_dir / "1-progress.png", full_page=True)
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=120_000)
    curve = page.get_by_alt_text("Performance against severity", exact=False)
    # The plot is drawn on request: wait until the browser has it.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 300", arg=curve.element_handle()
    )
    page.screenshot(path=screenshot_dir / "2-curve.png", full_page=True)
    assert page.locator(".worst-case img").count() >= 2
    # Each worst-case picture is named under itself (no "left/middle" in a stacked layout).
    conditions = CohortRun.objects.get(user=people["resident"]).conditions
    first_case = page.locator(".worst-case").first
    assert first_case.locator(".worst-case-panel figcaption").all_inner_texts() == [
        conditions[0]["label"],
        conditions[-1]["label"],
    ]
    assert "Left:" not in page.content() and "middle:" not in page.content()

    # The lab's questions are answered here, beside the result (issue 17 item 7).
    answers = page.locator("#questions")
    answers.get_by_label("Where does the AUC fall below 0.8?").fill("Above 300 HU of noise.")
    answers.get_by_label("Which site suffers first?").fill("Site B <b>first</b>")
    page.set_viewport_size({"width": 390, "height": 844})
    answers.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "2b-questions-390.png", full_page=True)
    answers.get_by_role("button", name="Save answers").click()
    assert page.get_by_text("Your answers were saved with this run.").is_visible()
    assert page.locator("#questions").get_by_label("Which site suffers first?").input_value() == (
        "Site B <b>first</b>"
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=screenshot_dir / "2c-answers-saved-1280.png", full_page=True)
    saved = CohortRun.objects.get(user=people["resident"]).answers
    assert sorted(entry["answer"] for entry in saved.values()) == [
        "Above 300 HU of noise.",
        "Site B <b>first</b>",
    ]

    page.get_by_role("link", name="Measure it", exact=False).click()
    page.wait_for_selector("#measure-live")
    roc = page.get_by_alt_text("ROC curve", exact=False)
    before_src = roc.get_attribute("src")
    # Threshold 0 calls every case positive: sensitivity 1, specificity 0.
    page.locator("#threshold").evaluate(
        "el => { el.value = '0'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.wait_for_function(
        "() => document.querySelector(\"td[data-measure='Specificity']\").innerText === '0.000'"
    )
    assert _cell(page, "Sensitivity") == "1.000"
    assert page.get_by_alt_text("ROC curve", exact=False).get_attribute("src") != before_src
    # A lower prevalence lowers the PPV at the same threshold.
    page.locator("#threshold").evaluate(
        "el => { el.value = '0.5'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.wait_for_function(
        "() => document.querySelector(\"td[data-measure='Specificity']\").innerText !== '0.000'"
    )
    page.locator("#prevalence").fill("50")
    page.wait_for_function(
        "() => document.querySelector(\"td[data-measure='Prevalence']\").innerText === '0.500'"
    )
    ppv_common = float(_cell(page, "PPV"))
    page.locator("#prevalence").fill("1")
    page.wait_for_function(
        "() => document.querySelector(\"td[data-measure='Prevalence']\").innerText === '0.010'"
    )
    assert float(_cell(page, "PPV")) < ppv_common
    page.screenshot(path=screenshot_dir / "3-measure.png", full_page=True)
    assert CohortRun.objects.get(user=people["resident"]).status == "succeeded"
