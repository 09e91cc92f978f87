"""The engine's two Celery tasks: execute one run of any family, and sweep every family."""

from celery import shared_task

from runs import services


# Queue and time limits come with each message from the family's policy (runs.services).
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execute_task(*, model: str, run_pk: int) -> None:
    services.run_execute_delivered(model_label=model, run_pk=run_pk)


@shared_task(ignore_result=True)
def runs_sweep_task() -> None:
    services.runs_sweep()
