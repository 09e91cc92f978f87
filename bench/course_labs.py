"""Every lab the shipped course embeds, run once through its engine: how long each takes on
this machine, against the run's time limit.

The content test (tests/curriculum_tests/test_course_labs.py) only validates the labs'
settings, because running real models for every lab would make the suite too slow; this
script is the check that each one actually runs. It loads the course with
`curriculum_load` into a throw-away SQLite database (the sample library built from the
cached sources), then, per distinct exercise, creates a run the way a resident's request
does and executes it in this process (`*_execute`, the engine's own path: claim, compute,
store). Break-it and explain labs run at the exercise's default severity with a fixed seed.

Reading rooms run as a resident's first visit does: the shared score set over the cohort
(a durable run, without a time limit), then the simulation at the exercise's default
threshold. The reader study has no engine run (the resident rates images) and is listed as
such; the model builder's leakage exercise trains twice (minutes each) and runs only with
--with-builder.

Goal (issue 15, "measure and report"): every shipped lab finishes well inside its time
limit on the 2-core machine, "well inside" meaning at most half the run's soft limit
(wall time). Prints one line per exercise: module, lesson, engine and kind, model, study or
cohort, wall and CPU seconds, the limit, the ratio of wall time to it, and a verdict, with
the load average (these machines are shared; CPU seconds of this process say how much of
the wall time was the lab's own work); then the goal and the overall verdict. Exit status 1
when any run failed or took more than half its limit.

    .venv/bin/python bench/course_labs.py [--only TEXT] [--module TEXT] [--workdir DIR]
        [--skip-cohorts] [--with-builder]
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

from bench.harness import manage, verdict, worker_bench_env  # noqa: E402

# "Well inside" a run's time limit: at most this share of it.
WELL_INSIDE = 0.5


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _embedded():
    """(module slug, lesson slug, block type, exercise title) per distinct exercise the
    course's lessons embed, in course order (an exercise embedded twice: where it first is)."""
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
                    found.append((module.slug, lesson.slug, *key))
    return found


def _kidney_box_prompt(exercise) -> str:
    """A prompt lab's input, as a careful reader draws it in the viewer: a box round the
    left kidney on the exercise's image, its corners taken from the library's own SEG."""
    import json

    import numpy as np
    import pydicom

    from labs.computation import seg_truth_masks
    from labs.selectors import study_image_paths, study_seg_paths

    paths = study_image_paths(study_key=exercise.study_key)
    image = pydicom.dcmread(paths[(exercise.slice_default or 1) - 1], stop_before_pixels=True)
    uid = str(image.SOPInstanceUID)
    kidney = seg_truth_masks(
        seg_paths=study_seg_paths(study_key=exercise.study_key),
        source_uid=uid,
        labels={"left kidney"},
        shape=(int(image.Rows), int(image.Columns)),
    )["left kidney"]
    rows, columns = np.nonzero(kidney)
    corners = [
        [float(columns.min()), float(rows.min())],
        [float(columns.max() + 1), float(rows.max() + 1)],
    ]
    return json.dumps({"marks": [{"kind": "box", "sopInstanceUID": uid, "image": corners}]})


def _lab_run(user, title):
    from labs.models import LabExercise, LabKind, LabRun
    from labs.services import lab_run_create, lab_run_execute

    exercise = LabExercise.objects.get(title=title)
    offer = exercise.offers[0] if exercise.offers else None
    prompt = _kidney_box_prompt(exercise) if exercise.kind == LabKind.PROMPT else None
    run = lab_run_create(
        user=user,
        exercise=exercise,
        perturbation_key=offer.key if offer else None,
        severity=offer.default if offer else None,
        seed=7,
        prompt=prompt,
    )
    lab_run_execute(run_pk=run.pk)
    run.refresh_from_db()
    study = exercise.study_key
    engine = f"lab/{exercise.kind}"
    detail = offer.key if offer else ",".join(exercise.explainer_keys)
    return engine, exercise.model_key, study, detail, run, LabRun.run_policy().soft_limit_seconds


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


def _reading_room_run(user, title):
    from reading_room.models import ReadingRoomExercise
    from reading_room.selectors import score_set_cases
    from reading_room.services import (
        score_set_execute,
        score_set_request,
        simulation_run_create,
    )

    exercise = ReadingRoomExercise.objects.get(title=title)
    score_set = score_set_request(
        source_key=exercise.score_source, cases=score_set_cases(exercise=exercise)
    )
    score_set_execute(score_set_pk=score_set.pk)
    score_set.refresh_from_db()
    if score_set.status == "succeeded":
        simulation_run_create(user=user, exercise=exercise, threshold=exercise.default_threshold)
    detail = f"{exercise.kind}, {score_set.cases} cases"
    return f"reading_room/{exercise.kind}", exercise.score_source, "-", detail, score_set, None


def _builder_run(user, title):
    from model_builder.models import BuilderExercise, TrainingRun
    from model_builder.services import training_run_execute, training_run_start_for_exercise

    exercise = BuilderExercise.objects.get(title=title)
    last = None
    for split in ("patient", "image"):
        run = training_run_start_for_exercise(
            user=user, exercise=exercise, lesson=None, split=split
        )
        training_run_execute(run_pk=run.pk)
        run.refresh_from_db()
        last = run
        if run.status != "succeeded":
            break
    # Each training stops itself at the soft limit (it keeps the model it has); two of them
    # make the exercise.
    limit = 2 * TrainingRun.run_policy().hard_limit_seconds
    detail = f"both splits, {exercise.epochs} epochs"
    return "model_builder/leakage", "trained CNN", "lesion cohort", detail, last, limit


RUNNERS = {
    "lab": _lab_run,
    "cohort_lab": _cohort_run,
    "deid": _deid_run,
    "reading_room": _reading_room_run,
    "model_builder": _builder_run,
}
# Exercises with no engine run: what the resident does there instead.
NOT_RUN = {"reader_study": "no engine run: the resident rates images"}


def _verdict(seconds: float, limit: float | None, status: str) -> tuple[str, str, bool]:
    """(ratio text, verdict, within the goal) of one run."""
    if status != "succeeded":
        return "-", "FAILED", False
    if not limit:
        return "-", "succeeded (no limit)", True
    ratio = seconds / limit
    if ratio <= WELL_INSIDE:
        return f"{ratio:.2f}", "well inside", True
    return f"{ratio:.2f}", "inside" if ratio < 1 else "OVER LIMIT", False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only exercises whose title has TEXT")
    parser.add_argument("--workdir", type=Path, help="reuse this directory (library, database)")
    parser.add_argument("--skip-cohorts", action="store_true")
    parser.add_argument("--module", action="append", default=[], help="only modules with TEXT")
    parser.add_argument(
        "--with-builder", action="store_true", help="train the leakage exercise (both splits)"
    )
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
        failures, measured, started_load = 0, 0, _load()
        print(f"Every lab of the shipped course, one run each; load average {started_load}")
        print(
            f"{'module':<24} {'lesson':<30} {'engine/kind':<24} {'model':<20} "
            f"{'study/cohort':<22} {'offer/explainers':<22} "
            f"{'wall s':>7} {'cpu s':>7} {'limit':>6} {'ratio':>5}  "
            f"verdict              load"
        )
        for module, lesson, block_type, title in _embedded():
            if args.only and args.only.lower() not in title.lower():
                continue
            if args.module and not any(text in module for text in args.module):
                continue
            if block_type in NOT_RUN:
                print(f"{module[:24]:<24} {lesson[:30]:<30} {block_type}: {NOT_RUN[block_type]}")
                continue
            runner = RUNNERS.get(block_type)
            skipped = (args.skip_cohorts and block_type == "cohort_lab") or (
                block_type == "model_builder" and not args.with_builder
            )
            if runner is None or skipped:
                print(f"{module[:24]:<24} {lesson[:30]:<30} {block_type}: not run this time")
                continue
            started, cpu_started = time.perf_counter(), time.process_time()
            try:
                engine, model, study, detail, run, limit = runner(user, title)
            except Exception as error:  # one broken lab must not hide the others' times
                failures += 1
                print(f"{module[:24]:<24} {lesson[:30]:<30} {block_type}: {title}: ERROR {error!r}")
                continue
            seconds = time.perf_counter() - started
            # CPU seconds of this process (all its threads; a model builder's trainer is a
            # child process and not counted): on a shared, overloaded host the wall time
            # mostly measures the other tenants; CPU time / 2 approximates the wall time on
            # an idle 2-core worker.
            cpu = time.process_time() - cpu_started
            ratio, word, ok = _verdict(seconds, limit, run.status)
            failures += not ok
            measured += 1
            error = getattr(run, "error_message", "") or ""
            print(
                f"{module[:24]:<24} {lesson[:30]:<30} {engine[:24]:<24} {model[:20]:<20} "
                f"{study[:22]:<22} {detail[:22]:<22} "
                f"{seconds:7.1f} {cpu:7.1f} {limit or 0:6.0f} {ratio:>5}  "
                f"{word:<20} {_load()}" + ("" if run.status == "succeeded" else f"  {error[:200]}"),
                flush=True,
            )
        print(
            verdict(
                f"every shipped lab succeeds in at most {WELL_INSIDE:.0%} of its time limit",
                failures == 0,
                f"{measured - failures} of {measured} labs; load average {started_load} at "
                f"the start, {_load()} at the end",
            )
        )
        return 1 if failures else 0
    finally:
        for child in reversed(children):
            child.stop()


if __name__ == "__main__":
    sys.exit(main())
