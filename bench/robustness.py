"""Robustness sweeps on the batch queue: case-conditions scored per minute by one Celery
worker of one torch thread, by two such workers, and by one worker of two threads, in the
same run, and the same work in-process for reference.

A sweep is split into parts any batch worker may take (evaluation.models.CohortChunk), so a
second worker shortens one resident's sweep, not only a class's. `--runs` sweeps are
submitted together (1: one resident waiting; more: a class) and timed from the first
submission to the last completion. Each phase starts its workers and warms each with an
untimed sweep (model load, cohort build, and the unperturbed scores, which are then served
from the cache), so the timed work in every phase and in-process is the same: every case
under every perturbed severity. One worker and two are timed in alternating rounds with the
same two processes (the second stops and resumes taking from the queue), each round starting
with idle workers; the medians are compared. "1 worker, 2 threads" shows the gain is the
second worker's, not the second core's alone.

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

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        import torch
        from django.conf import settings
        from django.db.models import Max

        from accounts.models import Role, User
        from config import celery_app
        from config.ops import queue_depths
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

        def workers_idle() -> None:
            """Wait until no message is queued or held: a sweep leaves its part offers
            behind (up to EVALUATION_PART_OFFERS), which find their parts scored (a few ms
            each), and a round must not start while the workers still clear the last one's."""
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                queued = queue_depths()["batch"]
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

        def workers_started(count: int, threads: int) -> tuple[list, list[str]]:
            log = (workdir / f"workers-{count}x{threads}.log").open("wb")
            phase_env = {**env, "EVALUATION_TORCH_THREADS": str(threads)}
            started = [
                worker_start(
                    env=phase_env,
                    queues="batch",
                    name=f"bench{count}x{threads}-{index}",
                    stdout=log,
                    stderr=log,
                )
                for index in range(count)
            ]
            deadline = time.monotonic() + 120
            while len(answers := celery_app.control.ping(timeout=0.5)) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{count} workers did not all answer")
            sweeps_run(count)  # warm-up: every worker loads the model, untimed
            return started, sorted(name for answer in answers for name in answer)

        def timed_round() -> float:
            workers_idle()
            return sweeps_run(args.runs)

        def rate_line(label: str, rounds: list[float]) -> float:
            elapsed = statistics.median(rounds)
            print(
                f"{label}: {args.runs} sweep(s) x {args.cases} cases x {conditions} perturbed "
                f"severities = {work} case-conditions in {elapsed:.2f} s (median of "
                f"{', '.join(f'{r:.2f}' for r in rounds)}) -> {60 * work / elapsed:.0f} per minute"
            )
            return 60 * work / elapsed

        # One worker and two workers of one thread, in alternating rounds with the same two
        # processes (the second stops and starts taking from the queue), so that a slow
        # minute on a shared machine weighs on both setups alike.
        started, names = workers_started(2, 1)
        alone, together = [], []
        try:
            for _ in range(args.repeats):
                celery_app.control.cancel_consumer("batch", destination=names[1:], reply=True)
                alone.append(timed_round())
                celery_app.control.add_consumer("batch", destination=names[1:], reply=True)
                together.append(timed_round())
        finally:
            for worker in started:
                worker.stop()
        one = rate_line("1 worker, 1 thread", alone)
        two = rate_line("2 workers, 1 thread each", together)
        started, _names = workers_started(1, 2)
        try:
            threaded = rate_line(
                "1 worker, 2 threads", [timed_round() for _ in range(args.repeats)]
            )
        finally:
            for worker in started:
                worker.stop()
        print(
            f"in-process (1 thread, {args.cases} cases x {conditions} severities, warm): "
            f"{in_process_rate:.0f} case-conditions per minute"
        )
        paired = sorted(a / b for a, b in zip(alone, together, strict=True))
        print(
            f"ratio 2 workers / 1 worker (1 thread each): {two / one:.2f}x "
            f"(round by round: {', '.join(f'{r:.2f}' for r in paired)})"
        )
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
