"""How the contract test makes a QUEUED run of each family: through the family's own create
service, as a resident's submission would. A new run model needs one line here; the
contract test fails until it has it."""

from __future__ import annotations


def lab_run_make(people):
    from labs import services
    from tests.labs_tests.lab_support import exercise_make

    return services.lab_run_create(
        user=people["resident"], exercise=exercise_make(), severity=60, slice_number=1
    )


def cohort_run_make(people):
    from evaluation import services
    from tests.evaluation_tests.support import cohort_exercise_make

    return services.cohort_run_create(
        user=people["resident"], exercise=cohort_exercise_make(severities="0, 300")
    )


def cohort_chunk_make(people):
    """A waiting part of a sweep, as its run splits it. The run itself is held by a worker
    busy elsewhere (its heartbeat set a day ahead, so no other worker takes the run and
    its parts over): the contract then sees the part on its own, delivered by the broker."""
    from datetime import timedelta

    from django.utils import timezone

    from evaluation import services
    from evaluation.models import CohortRun
    from runs.models import RunStatus
    from tests.evaluation_tests.support import cohort_exercise_make

    run = services.cohort_run_create(
        user=people["resident"], exercise=cohort_exercise_make(severities="0, 300")
    )
    now = timezone.now()
    CohortRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, attempts=1, started_at=now, heartbeat_at=now + timedelta(days=1)
    )
    return services.cohort_chunks_plan(run=run, condition_indexes=[1])[0]


def training_run_make(people):
    from model_builder import services
    from tests.model_builder_tests.support import TINY

    return services.training_run_create(user=people["resident"], title="Contract", raw_config=TINY)


def deid_attempt_make(people):
    """An attempt whose findings are in and whose run was requested (the lab's step 3)."""
    from deid_lab import services
    from deid_lab.models import DeidExercise

    exercise = DeidExercise.objects.create(title="Contract", variant="undeclared")
    attempt = services.deid_attempt_create(user=people["resident"], exercise=exercise)
    services.deid_findings_submit(attempt=attempt, paths=[])
    return services.deid_run_request(attempt=attempt, option_keys=["clean_pixel_data"])


def score_set_make(people):
    """A score set as the reading room asks for one: one row per source and size, so each
    call asks for a few more cases than the last (small cohorts: the real model scores them)."""
    from reading_room import services
    from reading_room.models import CohortScoreSet

    cases = 10 + CohortScoreSet.objects.count()
    return services.score_set_request(source_key="ct-lesion-held-out", cases=cases)


def statement_make(people):
    """A statement queued as a resident's event queues one (the contract turns xAPI on and
    gives it a real LRS: test_run_contract.small_runs)."""
    import uuid

    from xapi import services, statements
    from xapi.models import StatementOutbox

    services.statement_queue(
        event="contract.viewed",
        event_key=str(uuid.uuid4()),
        user_pk=people["resident"].pk,
        verb_key="experienced",
        obj=statements.activity("contract", 1, activity_type="lesson", name="Contract"),
        timestamp=None,
    )
    return StatementOutbox.objects.latest("pk")


RUN_MAKERS = {
    "labs.LabRun": lab_run_make,
    "evaluation.CohortRun": cohort_run_make,
    "evaluation.CohortChunk": cohort_chunk_make,
    "model_builder.TrainingRun": training_run_make,
    "deid_lab.DeidAttempt": deid_attempt_make,
    "reading_room.CohortScoreSet": score_set_make,
    "xapi.StatementOutbox": statement_make,
}
