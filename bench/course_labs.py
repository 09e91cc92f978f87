"""Every lab the shipped course embeds, run once through its engine: how long each takes on
this machine, against the run's time limit.

The content test (tests/curriculum_tests/test_course_labs.py) only validates the labs'
settings, because running real models for every lab would make the suite too slow; this
script is the check that each one actually runs. It loads the course with
`curriculum_load` into a throw-away SQLite database (the sample library built from the
cached sources), then, per distinct exercise, creates a run the way a resident's request
does and executes it in this process (`*_execute`, the engine's own path: claim, compute,
store). Break-it and explain labs run at the exercise's default severity with a fixed seed.

Prints one line per exercise: engine, model, study or cohort, seconds, the limit, status,
and the load average (these machines are shared; compare a time with its limit, not with
other runs). Exit status 1 when any run failed or took more than half its limit.

    .venv/bin/python bench/course_labs.py [--only TEXT] [--module TEXT] [--workdir DIR]
        [--skip-cohorts]
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

from bench.harness import manage, worker_bench_env  # noqa: E402


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _embedded():
    """(block type, exercise title) per distinct exercise the course's lessons embed, in
    course order."""
    from curriculum.content import EXERCISE_BLOCKS, course_read, lab_block_title

    seen, found = set(), []
    for module in course_read().modules:
        for lesson in module.lessons:
            for block in lesson.body:
                if block["type"] == "lab":
                    key = ("lab", lab_block_title(block))
                elif block["type"] in EXERCISE_BLOCKS:
                    key = (block["type"], block["exercise"]["title"])
                else:
                    continue
                if key not in seen:
                    seen.add(key)
                    found.append((module.slug, *key))
    return found


def _lab_run(user, title):
    from django.conf import settings

    from labs.models import LabExercise
    from labs.services import lab_run_create, lab_run_execute

    exercise = LabExercise.objects.get(title=title)
    offer = exercise.offers[0] if exercise.offers else None
    run = lab_run_create(
        user=user,
        exercise=exercise,
        perturbation_key=offer.key if offer else None,
        severity=offer.default if offer else None,
        seed=7,
    )
    lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    study = exercise.study_key
    engine = f"lab/{exercise.kind}"
    detail = offer.key if offer else ",".join(exercise.explainer_keys)
    return engine, exercise.model_key, study, detail, run, settings.LAB_RUN_SOFT_TIME_LIMIT_SECONDS


def _cohort_run(user, title):
    from evaluation.models import CohortExercise, CohortRun
    from evaluation.services import cohort_run_create, cohort_run_execute

    exercise = CohortExercise.objects.get(title=title)
    run = cohort_run_create(user=user, exercise=exercise)
    cohort_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    limit = CohortRun.run_policy().soft_limit_seconds
    return (
        f"cohort/{exercise.kind}",
        exercise.model_key,
        exercise.cohort_key,
        exercise.perturbation_key or "",
        run,
        limit,
    )


def _deid_run(user, title):
    from deid_lab.models import DeidAttempt, DeidExercise
    from deid_lab.services import (
        deid_attempt_create,
        deid_findings_submit,
        deid_run_execute,
        deid_run_request,
    )

    exercise = DeidExercise.objects.get(title=title)
    attempt = deid_attempt_create(user=user, exercise=exercise)
    attempt = deid_findings_submit(attempt=attempt, paths=[])
    attempt = deid_run_request(attempt=attempt, option_keys=[])
    deid_run_execute(attempt_pk=attempt.pk)
    attempt.refresh_from_db()
    limit = DeidAttempt.run_policy().soft_limit_seconds
    return "deid", "-", f"seeded ({exercise.variant})", "basic profile", attempt, limit


RUNNERS = {"lab": _lab_run, "cohort_lab": _cohort_run, "deid": _deid_run}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only exercises whose title has TEXT")
    parser.add_argument("--workdir", type=Path, help="reuse this directory (library, database)")
    parser.add_argument("--skip-cohorts", action="store_true")
    parser.add_argument("--module", action="append", default=[], help="only modules with TEXT")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="artefact-bench-course-"))
    workdir.mkdir(parents=True, exist_ok=True)
    from config.localservices import free_port, redis_start

    redis_port = free_port()
    # Runs are created as a resident's request creates them, which enqueues a message once
    # the row commits; a Redis must take it (no worker consumes it: this process executes).
    env = worker_bench_env(workdir, redis_port=redis_port)
    children = [redis_start(port=redis_port, data_dir=workdir / "redis")]
    try:
        quiet = {"stdout": subprocess.DEVNULL}
        manage(env, "migrate", "--noinput", "-v", "0", **quiet)
        manage(env, "library_load", **quiet)
        manage(env, "curriculum_load", **quiet)
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        from accounts.models import Role, User

        user, _created = User.objects.get_or_create(
            username="bench-course-resident", defaults={"role": Role.RESIDENT}
        )
        failures = 0
        print(
            f"{'module':<38} {'engine':<22} {'model':<20} {'study/cohort':<22} "
            f"{'offer':<22} {'wall s':>7} {'cpu s':>7} {'limit':>6} status   load"
        )
        for module, block_type, title in _embedded():
            if args.only and args.only.lower() not in title.lower():
                continue
            if args.module and not any(text in module for text in args.module):
                continue
            runner = RUNNERS.get(block_type)
            if runner is None or (args.skip_cohorts and block_type == "cohort_lab"):
                continue
            started, cpu_started = time.perf_counter(), time.process_time()
            engine, model, study, detail, run, limit = runner(user, title)
            seconds = time.perf_counter() - started
            # CPU seconds of this process (all its threads): on a shared, overloaded host
            # the wall time mostly measures the other tenants; CPU time / 2 approximates
            # the wall time on an idle 2-core worker.
            cpu = time.process_time() - cpu_started
            # The de-identification engine has no time limit: it only has to succeed.
            ok = run.status == "succeeded" and (limit is None or seconds < limit / 2)
            failures += not ok
            print(
                f"{module[:38]:<38} {engine:<22} {model:<20} {study:<22} {detail[:22]:<22} "
                f"{seconds:7.1f} {cpu:7.1f} {limit or 0:6.0f} {run.status:<8} {_load()}"
                + ("" if run.status == "succeeded" else f"  {run.error_message[:200]}"),
                flush=True,
            )
        return 1 if failures else 0
    finally:
        for child in reversed(children):
            child.stop()


if __name__ == "__main__":
    sys.exit(main())
