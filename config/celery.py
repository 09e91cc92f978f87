"""The Celery application: the platform's only job engine (no home-made queue)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("artefact")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Queues by cost: residents wait on `interactive`; sweeps and training go to `batch`;
# GPU hosts consume `gpu`. The default queue is interactive so nothing lands nowhere.
app.conf.task_queues = (Queue("interactive"), Queue("batch"), Queue("gpu"))
app.conf.task_default_queue = "interactive"
# Which queue each task family waits in; tasks themselves stay free of routing.
app.conf.task_routes = {
    # Durable runs: each message names its family's queue (RunPolicy.queue); the sweep is
    # quick and residents wait on what it finds.
    "runs.tasks.runs_sweep_task": {"queue": "interactive"},
    # Old names, kept one release so messages queued before the upgrade still run.
    "labs.tasks.lab_run_execute_task": {"queue": "interactive"},
    "labs.tasks.lab_runs_requeue_stale_task": {"queue": "interactive"},
    "labs.tasks.uploaded_model_validate_task": {"queue": "batch"},
    "deid_lab.tasks.deid_run_execute_task": {"queue": "interactive"},
    "deid_lab.tasks.deid_runs_requeue_stale_task": {"queue": "interactive"},
    "evaluation.tasks.cohort_run_execute_task": {"queue": "batch"},
    "evaluation.tasks.cohort_runs_requeue_stale_task": {"queue": "interactive"},
    # Training: batch by default; settings.MODEL_BUILDER_QUEUE=gpu sends it to CUDA hosts.
    "model_builder.tasks.training_run_execute_task": {"queue": "batch"},
    "model_builder.tasks.training_runs_requeue_stale_task": {"queue": "interactive"},
    "reading_room.tasks.score_set_compute_task": {"queue": "batch"},
    "assessments.tasks.attempts_overdue_submit_task": {"queue": "interactive"},
}
app.autodiscover_tasks()
