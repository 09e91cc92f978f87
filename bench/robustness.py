"""Robustness sweeps on the batch queue: case-conditions scored per minute with one and with
two Celery worker processes, in the same run, and the same work in-process for reference.

A sweep is one task (one run = one row = one worker), so two workers speed up several
residents' sweeps at once, not one sweep: the benchmark submits `--runs` sweeps together
(as a class would) and measures from the first submission to the last completion. Each
phase starts its workers and warms each with one untimed sweep (model load, cohort build,
and the unperturbed scores, which are then served from the cache), so the timed work in
both phases and in-process is the same: every case under every perturbed severity.

    .venv/bin/python bench/robustness.py [--runs 4] [--cases 120] [--severities 0,50,100,200,300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import load_average, manage, verdict, worker_bench_env  # noqa: E402

PERTURBATION = "gaussian-noise"
# Goal: on 2 cores, two workers finish a class's sweeps clearly faster than one.
GOAL_SPEED_UP = 1.2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--cases", type=int, default=120)
    parser.add_argument("--severities", default="0,50,100,200,300")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="artefact-bench-"))
    from config.localservices import free_port, redis_start, worker_start, worker_wait_ready

    redis_port = free_port()
    env = worker_bench_env(workdir, redis_port=redis_port)
    children = [redis_start(port=redis_port, data_dir=workdir / "redis")]
    try:
        manage(env, "migrate", "--noinput", "-v", "0", stdout=subprocess.DEVNULL)
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        import torch
        from django.conf import settings

        from accounts.models import Role, User
        from config import celery_app
        from evaluation import services
        from evaluation.cohorts import cohort_variants
        from evaluation.models import CohortExercise, CohortRun
        from evaluation.scoring import condition_score
        from zoo.registry import model_get

        settings.EVALUATION_MAX_ACTIVE_PER_USER = args.runs
        exercise = CohortExercise(
            title="bench sweep",
            kind="sweep",
            model_key="ct-lesion",
            cohort_key="ct-lesions-held-out",
            perturbation_key=PERTURBATION,
            severities=args.severities,
            case_count=args.cases,
        )
        exercise.full_clean()
        exercise.save()
        user = User.objects.create(username="bench-resident", role=Role.RESIDENT)
        perturbed = [c for c in services.cohort_run_conditions(exercise) if c["severity"]]
        conditions = len(perturbed)
        work = args.runs * args.cases * conditions

        # In-process reference: the same scoring, one thread, no queue, no database.
        torch.set_num_threads(1)
        model = model_get("ct-lesion")
        cohort = cohort_variants("ct-lesions-held-out", args.cases)["as-built"]
        condition_score(model=model, cohort=cohort, perturbation_key=None, severity=None, seed=0)
        started = time.perf_counter()
        for condition in perturbed:
            condition_score(
                model=model,
                cohort=cohort,
                perturbation_key=PERTURBATION,
                severity=condition["severity"],
                seed=0,
            )
        in_process = time.perf_counter() - started
        in_process_rate = 60 * args.cases * conditions / in_process

        def sweeps_run(count: int) -> float:
            """Submit `count` sweeps at once; seconds until the last one finishes."""
            started = time.perf_counter()
            runs = [
                services.cohort_run_create(user=user, exercise=exercise).pk for _ in range(count)
            ]
            while CohortRun.objects.filter(pk__in=runs, status__in=("queued", "running")):
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            failed = CohortRun.objects.filter(pk__in=runs).exclude(status="succeeded")
            if failed.exists():
                raise RuntimeError(f"Runs failed: {list(failed.values('pk', 'error_message'))}")
            return elapsed

        rates = {}
        for workers in (1, 2):
            log = (workdir / f"workers-{workers}.log").open("wb")
            started_workers = [
                worker_start(
                    env=env,
                    queues="batch",
                    name=f"bench{workers}-{index}",
                    stdout=log,
                    stderr=log,
                )
                for index in range(workers)
            ]
            try:
                worker_wait_ready(celery_app)
                time.sleep(2)  # let the second worker finish booting too
                sweeps_run(workers)  # warm-up: one sweep per worker, untimed
                elapsed = sweeps_run(args.runs)
                rates[workers] = 60 * work / elapsed
                print(
                    f"{workers} worker(s): {args.runs} sweeps x {args.cases} cases x "
                    f"{conditions} perturbed severities = {work} case-conditions in "
                    f"{elapsed:.1f} s -> {rates[workers]:.0f} per minute"
                )
            finally:
                for worker in started_workers:
                    worker.stop()
        print(
            f"in-process (1 thread, {args.cases} cases x {conditions} severities, warm): "
            f"{in_process_rate:.0f} case-conditions per minute"
        )
        print(f"ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
        print(f"ratio 1 worker / in-process: {rates[1] / in_process_rate:.2f}x")
        print(
            verdict(
                f"a second worker scores several residents' sweeps >= {GOAL_SPEED_UP:g}x faster",
                rates[2] / rates[1] >= GOAL_SPEED_UP,
                f"{rates[2] / rates[1]:.2f}x; load average {load_average()}",
            )
        )
        return 0
    finally:
        for child in reversed(children):
            child.stop()


if __name__ == "__main__":
    sys.exit(main())
