"""Capacity of one web + worker pair: simulated residents (locust) against the platform's
processes on PostgreSQL, stepped up until a goal breaks.

Starts what `make run` starts (scripts/run_platform.py): Redis, one Celery worker with two
processes (and the sweeper's beat) and gunicorn with 2 workers x 4 threads, here with
production settings (no debug; Redis cache; persistent database connections) on a
throw-away PostgreSQL database with the study library's chest CT and the shipped course
loaded. It enrols distinct resident accounts, then runs locust headless
(bench/capacity_locustfile.py: lesson -> viewer + DICOMweb -> a break-it lab to its result
-> the module quiz, with think times) at 5, 10, 20, 40 ... simulated residents, one short
step each, and reports per step the p95 of pages, of DICOMweb requests and of a lab's
submit-to-result time, the failures, the CPU seconds the web and the worker spent, and the
load average. Between steps it waits for the worker to drain what the last step left.

Everything runs on this machine's cores, locust included, and the machine is shared: the
load average is printed with each step, and the CPU seconds per page and per lab run (the
figures docs/capacity.md builds its model on) are less sensitive to that than latency is.

The think times are compressed (3-8 s between steps by default; a resident reading a lesson
thinks for minutes), so one simulated resident here stands for many real ones: the
capacity model converts with the measured requests and lab runs per second.

Goal (issue 19, item 6): the largest number of simulated residents at which page p95 < 1 s
and lab submit-to-result p95 < 5 s.

    .venv/bin/python bench/capacity.py [--steps 5,10,20,40,80] [--step-seconds 75]
        [--think 3,8] [--csv var/capacity.csv] [--keep-going]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = "postgres://postgres@127.0.0.1:5432"

from bench.harness import (  # noqa: E402
    BIN,
    PASSWORD,
    gunicorn_start,
    load_average,
    manage,
    percentile,
    verdict,
    wait_http,
)

GOAL_PAGE_P95_SECONDS = 1.0
GOAL_LAB_P95_SECONDS = 5.0
LOCUSTFILE = ROOT / "bench" / "capacity_locustfile.py"
# The shipped course's lab studies this bench loads; labs on other studies are left out.
LAB_STUDY_KEYS = ("chest-ct",)
STATIC_CACHE = ROOT / "var" / "bench-static"


def static_root_ensure(env: dict[str, str]) -> Path:
    """The static files collected as production serves them (hashed names, compressed),
    kept in var/ between runs: collecting ~1,800 files takes minutes on two loaded cores,
    and the result depends only on the static sources and the installed packages."""
    import hashlib

    listing = hashlib.sha256((ROOT / "requirements.lock").read_bytes())
    # static/dist (the built frontend) may be a link into another checkout: followed.
    for folder, _dirs, files in sorted(os.walk(ROOT / "static", followlinks=True)):
        for name in sorted(files):
            stat = (Path(folder) / name).stat()
            listing.update(f"{folder}/{name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    stamp = STATIC_CACHE / ".sources-fingerprint"
    if stamp.exists() and stamp.read_text() == listing.hexdigest():
        return STATIC_CACHE
    shutil.rmtree(STATIC_CACHE, ignore_errors=True)
    manage(
        {**env, "STATIC_ROOT": str(STATIC_CACHE)},
        "collectstatic",
        "--noinput",
        "-v",
        "0",
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(listing.hexdigest())
    return STATIC_CACHE


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        default="5,10,20,40,80",
        type=lambda text: [int(n) for n in text.split(",")],
        help="simulated residents per step, ascending (stops after the first step that fails)",
    )
    parser.add_argument("--step-seconds", type=int, default=75)
    parser.add_argument(
        "--think",
        default="3,8",
        type=lambda text: [float(n) for n in text.split(",")],
        help="think time between a resident's steps: low,high seconds (uniform)",
    )
    parser.add_argument("--warmup-seconds", type=int, default=120)
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="run every step even after one fails (more CPU-per-unit figures on a busy machine)",
    )
    parser.add_argument("--csv", type=Path, default=None, help="write the step table here")
    args = parser.parse_args(argv)
    if args.steps != sorted(args.steps) or min(args.steps) < 1:
        parser.error("--steps must be positive and ascending")
    if len(args.think) != 2 or not 0 <= args.think[0] <= args.think[1]:
        parser.error("--think takes low,high seconds with low <= high")
    return args


def course_plan(*, residents: int, origin: str) -> dict:
    """Residents (enrolled, each with a signed-in session), the lessons with a break-it lab
    on a loaded study that every resident may open, the viewer's study and the quizzes they
    may take: what the locustfile reads."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.test import override_settings

    from accounts.models import Role
    from accounts.permissions import may
    from accounts.services import enrolment_create, user_create
    from assessments.models import Assessment
    from curriculum.models import CurriculumPage, LessonPage
    from studies.models import Study

    course = CurriculumPage.objects.live().get()
    session_store = import_module(settings.SESSION_ENGINE).SessionStore
    sessions, accounts = [], []
    # The residents sign in by the session made here; their password is never checked, so
    # a fast hasher spares minutes of PBKDF2 on two shared cores.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for number in range(residents):
            resident = user_create(
                username=f"capacity-resident-{number}", password=PASSWORD, role=Role.RESIDENT
            )
            enrolment_create(user=resident, course=course)
            session = session_store()
            session[SESSION_KEY] = str(resident.pk)
            session[BACKEND_SESSION_KEY] = "accounts.backends.ArtefactModelBackend"
            session[HASH_SESSION_KEY] = resident.get_session_auth_hash()
            session.save()
            sessions.append(session.session_key)
            accounts.append(resident)
    first = accounts[0]
    lessons = [
        (lesson.url, block.value["exercise"].pk)
        for lesson in LessonPage.objects.live().descendant_of(course).order_by("path")
        if may(first, "curriculum.open_lesson", lesson)
        for block in lesson.body
        if block.block_type == "lab"
        and block.value["exercise"] is not None
        and block.value["exercise"].kind == "break-it"
        and block.value["exercise"].study_key in LAB_STUDY_KEYS
    ]
    quizzes = [
        quiz.pk
        for quiz in Assessment.objects.filter(kind="quiz").order_by("pk")
        if may(first, "assessments.take", quiz)
    ]
    study = Study.objects.get(key="chest-ct")
    series = study.series.filter(modality="CT").order_by("-number_of_instances").first()
    if not lessons or not quizzes:
        raise RuntimeError(f"Nothing to do: {len(lessons)} lab lessons, {len(quizzes)} quizzes")
    return {
        "origin": origin,
        "sessions": sessions,
        "lessons": lessons,
        "quizzes": quizzes,
        "study_uid": study.study_instance_uid,
        "series_uid": series.series_instance_uid,
    }


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and every descendant alive now."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
    except psutil.NoSuchProcess:
        pass
    return total


def active_lab_runs() -> int:
    from labs.models import LabRun
    from runs.models import ACTIVE_STATUSES

    return LabRun.objects.filter(status__in=ACTIVE_STATUSES).count()


def drain(seconds: float = 180) -> int:
    """Wait until the worker has finished the runs a step left behind; returns what is
    still active after `seconds`."""
    deadline = time.monotonic() + seconds
    while (left := active_lab_runs()) and time.monotonic() < deadline:
        time.sleep(1)
    return left


def locust_run(
    *, users: int, seconds: int, host: str, plan_path: Path, work: Path
) -> tuple[list, float]:
    """Run locust headless with `users` residents for `seconds`; its request records and the
    CPU seconds locust itself spent (it shares the cores with the platform)."""
    samples = work / f"samples-{users}.json"
    env = {**os.environ, "CAPACITY_PLAN": str(plan_path), "CAPACITY_SAMPLES": str(samples)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(users),
            # Every resident has started within the first ~5 s of the step.
            "--spawn-rate",
            str(max(1.0, users / 5)),
            "--run-time",
            f"{seconds}s",
            "--host",
            host,
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=(work / f"locust-{users}.log").open("wb"),
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    locust_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(samples.read_text()), locust_cpu


def step_summary(records: list, *, users: int, seconds: float, cpu: dict[str, float]) -> dict:
    """One row of the table: latencies in seconds, counts, rates and CPU per unit."""

    def times(prefix: str) -> list[float]:
        return [
            ms / 1000
            for _start, name, ms, failed in records
            if name.startswith(prefix) and not failed
        ]

    pages, dicomweb, labs = times("page: "), times("dicomweb: "), times("lab: submit to result")
    failures = sum(1 for *_rest, failed in records if failed)
    requests_done = sum(1 for _s, name, _ms, _f in records if not name.startswith("lab: submit to"))
    return {
        "residents": users,
        "page_p95_s": round(percentile(pages, 0.95), 3) if pages else None,
        "page_p50_s": round(percentile(pages, 0.5), 3) if pages else None,
        "dicomweb_p95_s": round(percentile(dicomweb, 0.95), 3) if dicomweb else None,
        "lab_p95_s": round(percentile(labs, 0.95), 2) if labs else None,
        "lab_p50_s": round(percentile(labs, 0.5), 2) if labs else None,
        "pages": len(pages),
        "labs": len(labs),
        "requests": requests_done,
        "failures": failures,
        "requests_per_s": round(requests_done / seconds, 2),
        "labs_per_min": round(60 * len(labs) / seconds, 1),
        "web_cpu_s": round(cpu["web"], 1),
        "worker_cpu_s": round(cpu["worker"], 1),
        "locust_cpu_s": round(cpu["locust"], 1),
        "worker_cpu_per_lab_s": round(cpu["worker"] / len(labs), 2) if labs else None,
        "web_cpu_per_request_ms": round(1000 * cpu["web"] / requests_done, 1)
        if requests_done
        else None,
        "load_average": load_average(),
    }


def step_holds(row: dict) -> bool:
    return (
        row["page_p95_s"] is not None
        and row["lab_p95_s"] is not None
        and row["page_p95_s"] < GOAL_PAGE_P95_SECONDS
        and row["lab_p95_s"] < GOAL_LAB_P95_SECONDS
    )


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    # `kill PID` (or a timeout) stops the processes and drops the database, as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    from config.localservices import free_port, redis_start, worker_start

    work = Path(tempfile.mkdtemp(prefix="artefact-capacity-"))
    database = f"artefact_capacity_{os.getpid()}"
    subprocess.run(["psql", PG + "/postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
    port, redis_port = free_port(), free_port()
    children = [redis_start(port=redis_port, data_dir=work / "redis", stdout=subprocess.DEVNULL)]
    common = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{database}",
        "ARTEFACT_VAR_DIR": str(work),
        "MEDIA_ROOT": str(work / "media"),
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "bench-only-" + "k" * 50,
        "DEID_SECRET": "bench-only-deid-" + "d" * 40,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
    }
    production = {
        **common,
        "ARTEFACT_ENV": "production",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_CONN_MAX_AGE": "60",
    }
    started = time.monotonic()
    try:
        for command, env in (
            (["migrate", "--noinput", "-v", "0"], common),
            (["library_load", "--only", *LAB_STUDY_KEYS], common),
            (["demo_setup"], common),  # the shipped course; refused under production settings
        ):
            with (work / "setup.log").open("ab") as setup_log:
                manage(env, *command, stdout=setup_log, stderr=setup_log)
        production["STATIC_ROOT"] = str(static_root_ensure(production))
        log = (work / "services.log").open("wb")
        # As scripts/run_platform.py starts them (`make run`).
        worker = worker_start(
            env=production,
            concurrency=2,
            beat_schedule=work / "celerybeat-schedule",
            stdout=log,
            stderr=log,
        )
        children.append(worker)
        web = gunicorn_start(
            env=production, port=port, workers=2, threads=4, stdout=log, stderr=log
        )
        children.append(web)
        os.environ.update(production)
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        host = f"http://127.0.0.1:{port}"
        plan = course_plan(residents=max(args.steps), origin=f"https://127.0.0.1:{port}")
        plan["think_seconds"] = args.think
        plan_path = work / "plan.json"
        plan_path.write_text(json.dumps(plan))
        wait_http(f"{host}/healthz", headers={"X-Forwarded-Proto": "https"}, seconds=300)
        print(
            f"Set-up {time.monotonic() - started:.0f} s: {len(plan['lessons'])} lessons with a "
            f"break-it lab on {', '.join(LAB_STUDY_KEYS)}, {len(plan['quizzes'])} quizzes, "
            f"{len(plan['sessions'])} enrolled residents; gunicorn 2x4 + Celery worker x2 + "
            f"Redis, production settings, PostgreSQL; think times {args.think[0]:g}-"
            f"{args.think[1]:g} s; steps of {args.step_seconds} s",
            flush=True,
        )

        # One resident first: the worker loads its models and every process warms up, and
        # a flow that does not work at all stops the bench here rather than in a table.
        warm, _cpu = locust_run(
            users=1, seconds=args.warmup_seconds, host=host, plan_path=plan_path, work=work
        )
        warm_failures = [name for _s, name, _ms, failed in warm if failed]
        if warm_failures:
            print(
                f"Warm-up failed ({len(warm_failures)} failures: {sorted(set(warm_failures))});"
                f" see {work}/locust-1.log and {work}/services.log"
            )
            return 1
        if not any(name == "lab: submit to result" for _s, name, *_r in warm):
            print("No lab finished in the warm-up: the first step includes the models' loading")

        rows = []
        header = (
            f"{'residents':>9} {'page p95':>9} {'dicomweb p95':>12} {'lab p50':>8} {'lab p95':>8} "
            f"{'labs':>5} {'req/s':>6} {'fail':>5} {'worker CPU/lab':>14} {'web CPU/req':>11}"
            "  load average"
        )
        print(header, flush=True)
        for users in args.steps:
            left = drain()
            if left:
                print(f"{left} lab runs still active before the step with {users}; stopping")
                break
            cpu_before = {
                "web": process_tree_cpu_seconds(web.pid),
                "worker": process_tree_cpu_seconds(worker.pid),
            }
            records, locust_cpu = locust_run(
                users=users,
                seconds=args.step_seconds,
                host=host,
                plan_path=plan_path,
                work=work,
            )
            cpu = {
                "web": process_tree_cpu_seconds(web.pid) - cpu_before["web"],
                "worker": process_tree_cpu_seconds(worker.pid) - cpu_before["worker"],
                "locust": locust_cpu,
            }
            row = step_summary(records, users=users, seconds=args.step_seconds, cpu=cpu)
            rows.append(row)

            def shown(value, unit="s"):
                return "-" if value is None else f"{value:g} {unit}"

            print(
                f"{users:>9} {shown(row['page_p95_s']):>9} {shown(row['dicomweb_p95_s']):>12} "
                f"{shown(row['lab_p50_s']):>8} {shown(row['lab_p95_s']):>8} {row['labs']:>5} "
                f"{row['requests_per_s']:>6} {row['failures']:>5} "
                f"{shown(row['worker_cpu_per_lab_s']):>14} "
                f"{shown(row['web_cpu_per_request_ms'], 'ms'):>11}  {row['load_average']}",
                flush=True,
            )
            if not step_holds(row) and not args.keep_going:
                break
        if args.csv and rows:
            args.csv.parent.mkdir(parents=True, exist_ok=True)
            with args.csv.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            print(f"Table written to {args.csv}")
        # The largest count before the first step that failed: a later step that happened to
        # pass after a failed one (a machine that calmed down) does not count.
        best = None
        for row in rows:
            if not step_holds(row):
                break
            best = row
        print(
            verdict(
                f"page p95 < {GOAL_PAGE_P95_SECONDS:g} s and lab p95 < {GOAL_LAB_P95_SECONDS:g} s "
                "on one web + worker pair",
                best is not None,
                f"held up to {best['residents']} simulated residents "
                f"({best['requests_per_s']} req/s, {best['labs_per_min']} labs/min)"
                if best
                else "not held at the smallest step",
            )
            + f"; load average {load_average()}, {time.monotonic() - started:.0f} s in all"
        )
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        from django.db import connections

        connections.close_all()
        subprocess.run(
            ["psql", PG + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"],
            check=False,
        )


if __name__ == "__main__":
    sys.exit(main())
