"""Cohort runs through the service (eagerly, in-process): scoring, cache, pages, CSV, access.

The cohort is capped at 12 cases (settings.EVALUATION_CASE_LIMIT) so each run takes
about a second on one thread.
"""

import csv
import io
import re

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from evaluation import services
from evaluation.models import BaselineScores, CohortCaseScore, CohortExerciseKind, CohortRun
from tests.evaluation_tests.support import cohort_exercise_make, lesson_embed
from tests.lesson_pages import lesson_page_read
from zoo.cohorts import ct_lesions
from zoo.evaluation import auc

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_cohorts(settings, tmp_path):
    settings.EVALUATION_CASE_LIMIT = 12
    settings.MEDIA_ROOT = tmp_path / "media"


def run_scored(*, user, exercise) -> CohortRun:
    run = services.cohort_run_create(user=user, exercise=exercise)
    services.cohort_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error_message
    return run


@pytest.fixture
def sweep_run(people):
    exercise = cohort_exercise_make(severities="0, 300")
    return run_scored(user=people["resident"], exercise=exercise)


def test_a_sweep_scores_every_case_under_every_condition(sweep_run):
    assert [c["severity"] for c in sweep_run.conditions] == [None, 300.0]
    rows = CohortCaseScore.objects.filter(run=sweep_run)
    assert rows.count() == 12 * 2
    cohort = ct_lesions.cohort_ct_lesions_build(cases=12, held_out=True, seed=12)
    unperturbed = list(rows.filter(condition_index=0).order_by("case_index"))
    assert [row.has_lesion for row in unperturbed] == list(cohort.has_lesion)
    assert [row.site for row in unperturbed] == list(cohort.scanner)
    # 300 HU of noise changes what the model says about the cases.
    noisy = rows.filter(condition_index=1).order_by("case_index").values_list("score", flat=True)
    assert not np.allclose([row.score for row in unperturbed], list(noisy))
    # The stored AUC is the AUC of the stored scores (nothing typed in).
    stored = sweep_run.summary["conditions"][0]["measures"]["roc-auc"]["rows"][0]
    assert stored["value"] == pytest.approx(
        auc(
            scores=np.array([row.score for row in unperturbed]),
            positive=np.array([row.has_lesion for row in unperturbed]),
        )
    )
    assert stored["low"] <= stored["value"] <= stored["high"]
    # A segmenter's curve has Dice with a CI too.
    assert "dice" in sweep_run.summary["conditions"][1]["measures"]


def test_worst_cases_are_ranked_by_dice_lost_and_have_pictures(sweep_run):
    worst = list(sweep_run.worst_cases.all())
    assert worst, "300 HU of noise should hurt at least one lesion case"
    lost = [case.dice_before - case.dice_after for case in worst]
    assert lost == sorted(lost, reverse=True) and lost[0] > 0
    for case in worst:
        assert case.before_image.read(8) == b"\x89PNG\r\n\x1a\n"
        assert case.after_image.read(8) == b"\x89PNG\r\n\x1a\n"


def test_unperturbed_scores_are_cached_per_model_and_cohort(people):
    exercise = cohort_exercise_make(kind=CohortExerciseKind.MEASURE)
    first = run_scored(user=people["resident"], exercise=exercise)
    assert BaselineScores.objects.count() == 1
    second = run_scored(user=people["resident"], exercise=exercise)
    assert BaselineScores.objects.count() == 1
    scores = [
        list(CohortCaseScore.objects.filter(run=run).values_list("score", flat=True))
        for run in (first, second)
    ]
    assert scores[0] == scores[1]
    # The measures of the unperturbed scores are kept too: the second run skips the bootstrap.
    assert BaselineScores.objects.get().measures == first.summary["conditions"][0]["measures"]
    assert second.summary["conditions"] == first.summary["conditions"]
    # Nothing was left to score the second time, so nothing was split into parts.
    assert first.summary["parts"] == {"count": 1, "workers": 1}
    assert second.summary["parts"] == {"count": 0, "workers": 0}


def _live_values(html: str) -> dict[str, float]:
    return {
        name: float(value)
        for name, value in re.findall(r'data-measure="([^"]+)">([-0-9.]+)<', html)
    }


def test_moving_the_threshold_and_prevalence_changes_the_numbers(client, people, sweep_run):
    client.force_login(people["resident"])
    url = reverse("evaluation:measure_live", args=[sweep_run.pk])
    low = _live_values(client.get(url, {"threshold": "0", "prevalence_percent": "50"}).text)
    high = _live_values(client.get(url, {"threshold": "1", "prevalence_percent": "50"}).text)
    assert low["Sensitivity"] == 1.0 and low["Specificity"] == 0.0
    assert high["Sensitivity"] <= low["Sensitivity"]
    assert high["Specificity"] >= low["Specificity"]
    # The same threshold at a lower prevalence: PPV falls, NPV rises (Bayes).
    rows = CohortCaseScore.objects.filter(run=sweep_run, condition_index=0)
    threshold = float(np.median([row.score for row in rows]))
    common = {"threshold": f"{threshold:.6f}"}
    clinic = _live_values(client.get(url, {**common, "prevalence_percent": "50"}).text)
    screening = _live_values(client.get(url, {**common, "prevalence_percent": "1"}).text)
    assert screening["PPV"] < clinic["PPV"]
    assert screening["NPV"] > clinic["NPV"]
    page = client.get(reverse("evaluation:measure", args=[sweep_run.pk]))
    assert page.status_code == 200
    assert b"Confusion matrix" in page.content and b"AUC per site" in page.content


def test_bad_threshold_keeps_the_page_and_says_why(client, people, sweep_run):
    client.force_login(people["resident"])
    response = client.get(
        reverse("evaluation:measure", args=[sweep_run.pk]),
        {"threshold": "lots", "prevalence_percent": "150"},
    )
    assert response.status_code == 200
    assert b"The threshold must be a number between 0 and 1." in response.content
    assert b"The prevalence must lie between 0.1 and 99.9 %." in response.content


def test_plots_are_pictures_a_person_can_open(client, people, sweep_run):
    client.force_login(people["resident"])
    roc = client.get(reverse("evaluation:roc_plot", args=[sweep_run.pk]), {"threshold": "0.3"})
    assert roc["Content-Type"] == "image/svg+xml" and b"<svg" in roc.content
    reliability = client.get(reverse("evaluation:reliability_plot", args=[sweep_run.pk]))
    assert b"<svg" in reliability.content
    curve = client.get(reverse("evaluation:robustness_plot", args=[sweep_run.pk]))
    assert curve["Content-Type"] == "image/png" and curve.content[:4] == b"\x89PNG"


def test_case_csv_holds_every_stored_score(client, people, sweep_run):
    client.force_login(people["resident"])
    response = client.get(reverse("evaluation:cases_csv", args=[sweep_run.pk]))
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 24
    stored = CohortCaseScore.objects.get(run=sweep_run, condition_index=1, case_index=3)
    row = next(r for r in rows if r["case_index"] == "3" and r["severity"] == "300.0")
    assert float(row["score"]) == pytest.approx(stored.score, abs=1e-6)
    assert row["site"] == stored.site and row["has_lesion"] == str(int(stored.has_lesion))


def test_summary_csv_follows_the_threshold_asked_for(client, people, sweep_run):
    client.force_login(people["resident"])
    url = reverse("evaluation:summary_csv", args=[sweep_run.pk])
    rows = list(
        csv.DictReader(
            io.StringIO(b"".join(client.get(url, {"threshold": "0"}).streaming_content).decode())
        )
    )
    sensitivity = [r for r in rows if r["name"] == "Sensitivity"]
    assert {r["value"] for r in sensitivity} == {"1.000000"}
    assert {r["threshold"] for r in sensitivity} == {"0.0"}
    auc_rows = [r for r in rows if r["name"] == "AUC" and r["group"] == ""]
    stored = sweep_run.summary["conditions"][0]["measures"]["roc-auc"]["rows"][0]
    assert float(auc_rows[0]["value"]) == pytest.approx(stored["value"], abs=1e-6)
    assert {r["group"] for r in rows if r["measure"] == "site-auc"} <= {
        s.name for s in ct_lesions.SCANNERS
    }


def test_residents_see_only_their_own_runs(client, people, sweep_run):
    other = run_scored(
        user=people["outsider"], exercise=cohort_exercise_make(kind=CohortExerciseKind.MEASURE)
    )
    client.force_login(people["resident"])
    listing = client.get(reverse("evaluation:run_list")).text
    assert reverse("evaluation:run_detail", args=[sweep_run.pk]) in listing
    assert reverse("evaluation:run_detail", args=[other.pk]) not in listing
    for name in ("run_detail", "measure", "cases_csv", "roc_plot"):
        assert client.get(reverse(f"evaluation:{name}", args=[other.pk])).status_code == 404
    client.force_login(people["educator"])
    assert client.get(reverse("evaluation:cases_csv", args=[other.pk])).status_code == 200


def test_a_resident_starts_a_run_from_a_lesson_that_embeds_the_lab(client, people, demo_lesson):
    exercise = cohort_exercise_make()
    client.force_login(people["resident"])
    url = reverse("evaluation:run_create", args=[exercise.pk])
    # Not embedded in this lesson yet: refused.
    assert client.post(url, {"lesson_id": demo_lesson.pk}).status_code == 403
    lesson_embed(demo_lesson, exercise)
    page = lesson_page_read(client, demo_lesson.url)
    assert exercise.title.encode() in page.content and b"Score the cohort" in page.content
    response = client.post(url, {"lesson_id": demo_lesson.pk})
    run = CohortRun.objects.get(user=people["resident"])
    assert response.status_code == 302 and response["Location"].endswith(f"/runs/{run.pk}/")
    assert run.status == "queued" and run.case_count == 12
    detail = client.get(response["Location"])
    assert b"<progress" in detail.content and b"hx-get" in detail.content


def test_too_many_active_runs_are_refused_with_a_message(people, settings):
    settings.EVALUATION_MAX_ACTIVE_PER_USER = 1
    exercise = cohort_exercise_make()
    services.cohort_run_create(user=people["resident"], exercise=exercise)
    with pytest.raises(services.CohortRunRefused, match="already have 1 cohort runs"):
        services.cohort_run_create(user=people["resident"], exercise=exercise)


def test_exercise_severities_are_checked_against_the_perturbation():
    with pytest.raises(ValidationError, match="from 0 to 300"):
        cohort_exercise_make(severities="0, 500")
    with pytest.raises(ValidationError, match="numbers separated by commas"):
        cohort_exercise_make(severities="low, high")
    with pytest.raises(ValidationError, match="burned-in marker"):
        cohort_exercise_make(kind=CohortExerciseKind.SHORTCUT, cohort_key="ct-lesions-held-out")


def test_a_sweep_gives_the_worker_its_torch_threads_back(people, settings):
    # A worker serves the interactive queue too: a sweep's one thread per worker must not
    # leave the next lab in that process on one core.
    import torch

    settings.EVALUATION_TORCH_THREADS = 1
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_scored(user=people["resident"], exercise=cohort_exercise_make(severities="0, 300"))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
