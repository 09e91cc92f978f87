"""Moving a family onto the run engine keeps its rows: a database with rows written by the
code before the move (every old status value) is migrated forward, and every row is still
there, with its status translated to the engine's and its results intact; the engine then
picks up the work the old rows left waiting or running. Back again restores the old values.

Runs on whichever database the suite uses (SQLite by default, PostgreSQL in CI).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

# The last migration of each family before it moved onto the engine.
BEFORE = [
    ("deid_lab", "0002_editors_author_exercises"),
    ("reading_room", "0004_shipped_exercises_as_practised"),
]

# Old status -> what the engine calls it.
DEID_STATUSES = {
    "finding": "finding",
    "choosing": "choosing",
    "queued": "queued",
    "running": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}
SCORE_SET_STATUSES = {
    "queued": "queued",
    "running": "running",
    "ready": "succeeded",
    "failed": "failed",
}


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _old_rows(old_apps) -> dict:
    """Rows as the code before the move wrote them, one per old status."""
    User = old_apps.get_model(settings.AUTH_USER_MODEL)
    DeidExercise = old_apps.get_model("deid_lab", "DeidExercise")
    DeidAttempt = old_apps.get_model("deid_lab", "DeidAttempt")
    CohortScoreSet = old_apps.get_model("reading_room", "CohortScoreSet")
    CaseScore = old_apps.get_model("reading_room", "CaseScore")
    long_ago = timezone.now() - timedelta(hours=1)
    resident = User.objects.create(username="old-resident")
    exercise = DeidExercise.objects.create(title="Before the move", variant="undeclared")
    attempts = {}
    for status in DEID_STATUSES:
        attempts[status] = DeidAttempt.objects.create(
            exercise=exercise,
            user=resident,
            status=status,
            findings=["PatientName"],
            options=["clean_pixel_data"],
            date_offset_days=-42,
            attempts=0 if status in ("finding", "choosing") else 1,
            result={"leaks": []} if status == "succeeded" else {},
            queued_at=long_ago,
            started_at=long_ago,
            heartbeat_at=long_ago,  # a worker of the old code that died long ago
        ).pk
    score_sets = {}
    for cases, status in enumerate(SCORE_SET_STATUSES, start=10):
        score_set = CohortScoreSet.objects.create(
            source_key="ct-lesion-held-out",
            cases=cases,
            status=status,
            attempts=1,
            queued_at=long_ago,
            heartbeat_at=long_ago,
            auc=0.9 if status == "ready" else None,
            positives=3 if status == "ready" else 0,
        )
        if status == "ready":
            CaseScore.objects.bulk_create(
                CaseScore(score_set=score_set, case_index=i, score=i / 10, is_positive=i < 3)
                for i in range(cases)
            )
        score_sets[status] = score_set.pk
    return {"attempts": attempts, "score_sets": score_sets}


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_move_survive_it_and_the_engine_takes_them_on():
    from deid_lab.models import DeidAttempt
    from reading_room.models import CaseScore, CohortScoreSet
    from runs import services

    made = _old_rows(_migrate(BEFORE))
    _migrate(_latest())

    for old, pk in made["attempts"].items():
        attempt = DeidAttempt.objects.get(pk=pk)
        assert attempt.status == DEID_STATUSES[old]
        assert (attempt.findings, attempt.options, attempt.date_offset_days) == (
            ["PatientName"],
            ["clean_pixel_data"],
            -42,
        )
    assert DeidAttempt.objects.get(pk=made["attempts"]["succeeded"]).result == {"leaks": []}
    for old, pk in made["score_sets"].items():
        assert CohortScoreSet.objects.get(pk=pk).status == SCORE_SET_STATUSES[old]
    ready = CohortScoreSet.objects.get(pk=made["score_sets"]["ready"])
    assert ready.is_ready and (ready.auc, ready.positives) == (0.9, 3)
    assert CaseScore.objects.filter(score_set=ready).count() == ready.cases

    # The work the old code left waiting or running is the engine's now: its one sweeper
    # offers it again (the score sets had no sweeper before the move).
    swept = services.runs_sweep()
    assert sorted(swept["deid_lab.DeidAttempt"]) == sorted(
        [made["attempts"]["queued"], made["attempts"]["running"]]
    )
    assert sorted(swept["reading_room.CohortScoreSet"]) == sorted(
        [made["score_sets"]["queued"], made["score_sets"]["running"]]
    )
    # Attempts still finding their leaks or choosing options are not runs yet.
    for step in ("finding", "choosing"):
        assert DeidAttempt.objects.get(pk=made["attempts"][step]).status == step


@pytest.mark.django_db(transaction=True)
def test_migrating_back_restores_the_old_status_values():
    from reading_room.models import CohortScoreSet

    _migrate(_latest())
    succeeded = CohortScoreSet.objects.create(
        source_key="ct-lesion-held-out", cases=10, status="succeeded"
    )
    cancelled = CohortScoreSet.objects.create(
        source_key="ct-lesion-held-out", cases=11, status="cancelled"
    )
    old_apps = _migrate(BEFORE)
    OldScoreSet = old_apps.get_model("reading_room", "CohortScoreSet")
    assert OldScoreSet.objects.get(pk=succeeded.pk).status == "ready"
    assert OldScoreSet.objects.get(pk=cancelled.pk).status == "failed"
    _migrate(_latest())
