"""Two worker hosts that share nothing but the broker, the database and the object store.

Each worker runs in its own mount and UTS namespace (bubblewrap): its own host name, HOME,
MEDIA_ROOT and file cache, with the other host's folder and the web's media and cache
covered by an empty tmpfs. A worker that opened a path of another host or of the web
would find nothing there, and its run would fail. (Each keeps the machine's network: the
broker, database and S3 server listen on loopback here.)

A break-it lab and a cohort sweep (in parts both hosts take) go through them; one host is
SIGKILLed while it is scoring a part, and a short training follows; every run finishes
exactly once, the killed host's part on the host left, and the web serves their outputs
from the bucket.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from django.urls import reverse
from pydicom.data import get_testdata_file

from config.celery import app as celery_app
from config.localservices import worker_start
from evaluation import services as evaluation_services
from evaluation.models import CohortChunk, CohortRun
from labs import services as lab_services
from labs.models import LabRun
from model_builder import services as builder_services
from model_builder.models import TrainingRun
from runs.models import RunStatus
from studies.models import Study
from studies.services import study_store_uploaded
from tests.evaluation_tests.support import cohort_exercise_make
from tests.integration.s3_support import bucket_keys, s3_worker_env
from tests.labs_tests.lab_support import exercise_make, lesson_embed
from tests.model_builder_tests.support import TINY

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

HOSTS = ("host-a", "host-b")


def _wait(predicate, *, timeout: float, what: str, logs: list[Path]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2500:]}" for log in logs)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}\n{_runs()}\n{tails}")


def _runs() -> str:
    """Every run's state, for a failure message."""
    rows = []
    for model in (LabRun, CohortRun, TrainingRun, CohortChunk):
        for row in model.objects.all():
            rows.append(
                f"{model.__name__} {row.pk}: {row.status} x{row.attempts} "
                f"{getattr(row, 'worker', '')} {row.progress_message} {row.error_message}"
            )
    return "\n".join(rows)


def _host_start(name: str, *, roots: dict[str, Path], hidden: list[Path], env: dict, log: Path):
    """A worker that sees its own folders only: everything else of this test is hidden."""
    root = roots[name]
    for folder in ("home", "media", "cache"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    covers = [path for other, path in roots.items() if other != name] + hidden
    prefix = ["bwrap", "--dev-bind", "/", "/", "--unshare-uts", "--hostname", name]
    for path in covers:
        prefix += ["--tmpfs", str(path)]
    host_env = {
        **env,
        "HOME": str(root / "home"),
        "MEDIA_ROOT": str(root / "media"),
        "FILE_CACHE_DIR": str(root / "cache"),
    }
    with log.open("wb") as out:
        return worker_start(
            env=host_env,
            name=name,
            prefix=prefix,
            # One beat for the pair, on the host that stays: it re-offers the killed
            # host's runs once their heartbeats go stale.
            beat_schedule=root / "beat" if name == "host-b" else None,
            stdout=out,
            stderr=out,
        )


def test_two_hosts_share_the_work_and_one_dies_without_losing_a_run(
    s3_bucket, worker_env, tmp_path, demo_lesson, people, client, settings
):
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is missing (scripts/bootstrap.sh installs it)")
    settings.EVALUATION_CASE_LIMIT = 24
    settings.EVALUATION_CHUNK_CASES = 3
    # A study the educator stored: it lives in the bucket only.
    outcome = study_store_uploaded(
        files=[Path(get_testdata_file("CT_small.dcm")).read_bytes()], user=people["educator"]
    )
    study = Study.objects.get(study_instance_uid=outcome.stored[0].study_instance_uid)
    Study.objects.filter(pk=study.pk).update(key="two-hosts-ct")
    exercise = exercise_make(title="Noise on two hosts", study_key="two-hosts-ct")
    lesson_embed(demo_lesson, exercise)

    roots = {name: tmp_path / name for name in HOSTS}
    hidden = [Path(settings.MEDIA_ROOT), Path(settings.FILE_CACHE_DIR)]
    for path in hidden:
        path.mkdir(parents=True, exist_ok=True)
    env = {
        **worker_env,
        **s3_worker_env(s3_bucket),
        "RUN_STALE_SECONDS": "3",
        "RUN_SWEEP_SECONDS": "1",
        # Each progress report pauses a second, so the sweep's 24 parts take 48 s or more
        # on one host: host A, free after the lab, loads the model and takes parts long
        # before host B could finish them alone, however busy the machine.
        "RUN_STEP_PAUSE_SECONDS": "1.0",
        "EVALUATION_CASE_LIMIT": "24",
        "EVALUATION_CHUNK_CASES": "3",
    }
    logs = {name: tmp_path / f"{name}.log" for name in HOSTS}
    hosts = {
        name: _host_start(name, roots=roots, hidden=hidden, env=env, log=logs[name])
        for name in HOSTS
    }
    try:
        _wait(
            lambda: len(celery_app.control.ping(timeout=0.5)) >= 2,
            timeout=120,
            what="both hosts' workers",
            logs=list(logs.values()),
        )
        resident = people["resident"]
        lab_run = lab_services.lab_run_create(user=resident, exercise=exercise, severity=120)
        sweep = evaluation_services.cohort_run_create(
            user=resident,
            exercise=cohort_exercise_make(
                perturbation_key="gaussian-noise", severities="0, 150, 300"
            ),
        )
        # Kill host A while it is scoring one of the sweep's parts.
        held = _wait(
            lambda: CohortChunk.objects.filter(
                run=sweep, status=RunStatus.RUNNING, worker__startswith="host-a:"
            ).first(),
            timeout=180,
            what="host A to score a part of the sweep",
            logs=list(logs.values()),
        )
        hosts["host-a"].kill_hard()
        training = builder_services.training_run_create(
            user=resident, title="Two hosts", raw_config=TINY
        )
        runs = [(LabRun, lab_run.pk), (CohortRun, sweep.pk), (TrainingRun, training.pk)]
        _wait(
            lambda: all(model.objects.get(pk=pk).is_final for model, pk in runs),
            timeout=300,
            what="host B to finish every run",
            logs=list(logs.values()),
        )
    finally:
        for host in hosts.values():
            host.stop()

    tails = "\n".join(log.read_text()[-2500:] for log in logs.values())
    for model, pk in runs:
        row = model.objects.get(pk=pk)
        assert row.status == RunStatus.SUCCEEDED, (model.__name__, row.error_message, tails)
        assert row.attempts <= 2, (model.__name__, row.attempts)
    # The part host A was scoring was scored again, once, on host B.
    retaken = CohortChunk.objects.get(pk=held.pk)
    assert retaken.attempts == 2 and retaken.worker.startswith("host-b:")
    parts = CohortChunk.objects.filter(run=sweep)
    assert parts.count() == 24
    assert set(parts.values_list("status", flat=True)) == {RunStatus.SUCCEEDED}
    assert CohortRun.objects.get(pk=sweep.pk).case_scores.count() == 72  # 24 cases x 3

    # Neither host wrote its outputs to its own disk: they are objects in the bucket...
    for root in roots.values():
        assert not (root / "media" / "lab-runs").exists()
        assert not (root / "media" / "training-runs").exists()
    keys = bucket_keys(s3_bucket)
    lab_run = LabRun.objects.get(pk=lab_run.pk)
    assert lab_run.original_overlay.name in keys
    training = TrainingRun.objects.get(pk=training.pk)
    assert any(key.startswith(f"{training.work_dir}/") for key in keys), keys
    # ...and the web, whose media and cache the hosts never saw, serves them.
    client.force_login(people["resident"])
    picture = client.get(reverse("labs:run_output", args=[lab_run.pk, "original_overlay"]))
    assert picture.status_code == 200
    assert b"".join(picture.streaming_content)[:4] == b"\x89PNG"
    plot = client.get(reverse("evaluation:robustness_plot", args=[sweep.pk]))
    assert plot.status_code == 200
    curves = client.get(reverse("model_builder:run_curves", args=[training.pk]))
    assert curves.status_code == 200 and b"<svg" in curves.content
