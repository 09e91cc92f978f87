"""Robustness sweeps on the batch queue: case-conditions scored per minute by one Celery
worker of one torch thread, by two such workers, and by one worker of two threads, in the
same run, and the same work in-process for reference.

A sweep is split into parts any batch worker may take (evaluation.models.CohortChunk), so a
second worker shortens one resident's sweep, not only a class's. `--runs` sweeps are
submitted together (1: one resident waiting; more: a class) and timed from the first
submission to the last completion. Each phase starts its workers and warms each with an
untimed sweep (model load, cohort build, and the unperturbed scores, which are then served
from the cache), so the timed work in every phase and in-process is the same: every case
under every perturbed severity. "1 worker, 2 threads" shows the gain is the second worker's,
not the second core's alone.

    .venv/bin/python bench/robustness.py [--runs 1] [--cases 120] [--severities 0,50,100,200,300]
        [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import load_average, manage, verdict, worker_bench_env  # noqa: E402

PERTURBATION = "gaussian-noise"
# Goal (issue 19): on 2 cores, two workers of one thread score one sweep >= 1.8x as fast
# as one such worker.
GOAL_SPEED_UP = 1.8
# (label, worker processes, torch threads per worker)
PHASES = (
    ("1 worker, 1 thread", 1, 1),
    ("2 workers, 1 thread each", 2, 1),
    ("1 worker, 2 threads", 1, 2),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--cases", type=int, default=120)
    parser.add_argument("--severities", default="0,50,100,200,300")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed rounds per phase; the median is reported"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="artefact-bench-"))
    from config.localservices import free_port, redis_start, worker_start

    redis_port = free_port()
    env = worker_bench_env(workdir, redis_port=redis_port)
    children = [redis_start(port=redis_port, data_dir=workdir / "redis")]
    try:
        manage(env, "migrate", "--noinput", "-v", "0", stdout=subprocess.DEVNULL)
        import django
        import redis

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        import torch
        from django.conf import settings
        from django.db.models import Max

        from accounts.models import Role, User
        from config import celery_app
        from evaluation import services
        from evaluation.cohorts import cohort_variants
        from evaluation.models import CohortExercise, CohortRun
        from evaluation.scoring import condition_score
        from zoo.registry import model_get

        settings.EVALUATION_MAX_ACTIVE_PER_USER = max(args.runs, 2)
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
            """Submit `count` sweeps at once; seconds until the last one finished, by the
            finish time the worker wrote (this process looks only every 0.2 s, which
            would add up to 0.2 s to sweeps of a few seconds)."""
            started = time.time()
            runs = [
                services.cohort_run_create(user=user, exercise=exercise).pk for _ in range(count)
            ]
            while CohortRun.objects.filter(pk__in=runs, status__in=("queued", "running")):
                time.sleep(0.2)
            failed = CohortRun.objects.filter(pk__in=runs).exclude(status="succeeded")
            if failed.exists():
                raise RuntimeError(f"Runs failed: {list(failed.values('pk', 'error_message'))}")
            finished = CohortRun.objects.filter(pk__in=runs).aggregate(last=Max("finished_at"))
            return finished["last"].timestamp() - started

        broker = redis.Redis.from_url(env["REDIS_URL"])

        def workers_idle() -> None:
            """Wait until no message is queued or held: a sweep leaves one message per part
            behind, which finds its part scored (a few ms each), and a round must not start
            while the workers still clear the last one's."""
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                queued = sum(broker.llen(key) for key in broker.scan_iter("batch*"))
                inspect = celery_app.control.inspect(timeout=0.5)
                busy = [
                    task
                    for answer in (inspect.active() or {}, inspect.reserved() or {})
                    for tasks in answer.values()
                    for task in tasks
                ]
                if not queued and not busy:
                    return
                time.sleep(0.2)
            raise RuntimeError("the workers did not become idle")

        rates = {}
        for label, workers, threads in PHASES:
            log = (workdir / f"workers-{workers}-{threads}.log").open("wb")
            phase_env = {**env, "EVALUATION_TORCH_THREADS": str(threads)}
            started_workers = [
                worker_start(
                    env=phase_env,
                    queues="batch",
                    name=f"bench{workers}x{threads}-{index}",
                    stdout=log,
                    stderr=log,
                )
                for index in range(workers)
            ]
            try:
                deadline = time.monotonic() + 120
                while len(celery_app.control.ping(timeout=0.5)) < workers:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{workers} workers did not all answer")
                sweeps_run(workers)  # warm-up: every worker loads the model, untimed
                rounds = []
                for _ in range(args.repeats):
                    workers_idle()
                    rounds.append(sweeps_run(args.runs))
                elapsed = statistics.median(rounds)
                rates[label] = 60 * work / elapsed
                print(
                    f"{label}: {args.runs} sweep(s) x {args.cases} cases x "
                    f"{conditions} perturbed severities = {work} case-conditions in "
                    f"{elapsed:.2f} s (median of {', '.join(f'{r:.2f}' for r in rounds)}) "
                    f"-> {rates[label]:.0f} per minute"
                )
            finally:
                for worker in started_workers:
                    worker.stop()
        one, two, threaded = (rates[label] for label, _w, _t in PHASES)
        print(
            f"in-process (1 thread, {args.cases} cases x {conditions} severities, warm): "
            f"{in_process_rate:.0f} case-conditions per minute"
        )
        print(f"ratio 2 workers / 1 worker (1 thread each): {two / one:.2f}x")
        print(f"ratio 1 worker of 2 threads / 1 worker of 1: {threaded / one:.2f}x")
        print(f"ratio 1 worker / in-process: {one / in_process_rate:.2f}x")
        print(
            verdict(
                f"a second worker scores {args.runs} sweep(s) >= {GOAL_SPEED_UP:g}x as fast",
                two / one >= GOAL_SPEED_UP,
                f"{two / one:.2f}x; load average {load_average()}",
            )
        )
        return 0
    finally:
        for child in reversed(children):
            child.stop()


if __name__ == "__main__":
    sys.exit(main())
