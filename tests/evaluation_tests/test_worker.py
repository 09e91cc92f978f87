"""A robustness sweep through a real Redis and a real `celery worker` on the batch queue."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from evaluation import services
from evaluation.models import CohortRun, CohortRunStatus
from tests.evaluation_tests.support import cohort_exercise_make

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_sweep_completes_on_the_worker_with_progress(celery_worker, people, settings, client):
    settings.EVALUATION_CASE_LIMIT = 12
    exercise = cohort_exercise_make(perturbation_key="gaussian-noise", severities="0, 50, 150")
    run = services.cohort_run_create(user=people["resident"], exercise=exercise)
    seen_progress: set[int] = set()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        current = CohortRun.objects.get(pk=run.pk)
        seen_progress.add(current.progress_percent)
        if not current.is_active:
            break
        time.sleep(0.1)
    assert current.status == CohortRunStatus.SUCCEEDED, (
        current.error_message,
        celery_worker.log_path.read_text()[-3000:],
    )
    assert current.attempts == 1
    # 12 cases x (unperturbed + 50 HU + 150 HU of noise).
    assert current.case_scores.count() == 36
    assert [c["severity"] for c in current.conditions] == [None, 50.0, 150.0]
    assert any(0 < percent < 100 for percent in seen_progress), seen_progress
    client.force_login(people["resident"])
    page = client.get(reverse("evaluation:run_detail", args=[run.pk])).text
    assert reverse("evaluation:robustness_plot", args=[run.pk]) in page
    assert "150 σ (HU)" in page
