"""Lesson page under load: gunicorn with production settings on PostgreSQL, 32 clients.

Creates a throw-away PostgreSQL database, loads the shipped course into it, collects static
files, and starts gunicorn with ARTEFACT_ENV=production. Then 32 concurrent clients fetch a
lesson page as an enrolled resident, and the same 32 fetch a static file from the same
server in the same run: the static file is the floor, and the ratio says what a lesson page
costs above it. The load generator runs on the same 2 cores, so absolute numbers are
pessimistic; only the same-run ratio means anything.

    .venv/bin/python bench/pages.py [--requests 1000] [--clients 32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = "postgres://postgres@127.0.0.1:5432"

from bench.harness import gunicorn_start, manage, percentile, wait_http  # noqa: E402


def load(
    url: str, *, headers: dict, requests_total: int, clients: int
) -> tuple[list[float], float]:
    """Latencies of `requests_total` GETs spread over `clients` threads, and the wall time."""
    import requests

    per_client = requests_total // clients

    def client(_index: int) -> list[float]:
        session = requests.Session()
        timings = []
        for _ in range(per_client):
            started = time.perf_counter()
            response = session.get(url, headers=headers, timeout=60)
            timings.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
        return timings

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [t for timings in pool.map(client, range(clients)) for t in timings]
    return latencies, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()

    from config.localservices import free_port

    work = Path(tempfile.mkdtemp(prefix="artefact-pages-"))
    database = f"artefact_bench_{os.getpid()}"
    subprocess.run(["psql", PG + "/postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
    port = free_port()
    common = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{database}",
        "ARTEFACT_VAR_DIR": str(work),
        "MEDIA_ROOT": str(work / "media"),
        "STATIC_ROOT": str(work / "static"),
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "bench-only-" + "k" * 50,
        "DEID_SECRET": "bench-only-deid-" + "d" * 40,
    }
    production = {
        **common,
        "ARTEFACT_ENV": "production",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_CONN_MAX_AGE": "60",
    }
    web = None
    try:
        for command, env in (
            (["migrate", "--noinput", "-v", "0"], common),
            (["demo_setup"], common),  # demo content is refused under production settings
            (["collectstatic", "--noinput", "-v", "0"], production),
        ):
            manage(env, *command, stdout=subprocess.DEVNULL)
        log = (work / "gunicorn.log").open("wb")
        web = gunicorn_start(
            env=production, port=port, workers=4, threads=2, stdout=log, stderr=log
        )
        os.environ.update(production)
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        import requests
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.db import SessionStore

        from accounts.models import User
        from curriculum.models import LessonPage

        # Production refuses demo accounts; the bench's resident stands in for a real one.
        User.objects.filter(username="resident").update(is_demo=False)
        resident = User.objects.get(username="resident")
        session = SessionStore()
        session[SESSION_KEY] = str(resident.pk)
        session[BACKEND_SESSION_KEY] = "accounts.backends.ArtefactModelBackend"
        session[HASH_SESSION_KEY] = resident.get_session_auth_hash()
        session.save()
        lesson = LessonPage.objects.live().get(slug="when-noise-breaks-a-model")
        base = f"http://127.0.0.1:{port}"
        # The proxy header is what a TLS-terminating reverse proxy sends in production.
        headers = {"X-Forwarded-Proto": "https", "Cookie": f"sessionid={session.session_key}"}
        wait_http(f"{base}/healthz", headers=headers)
        page = requests.get(base + lesson.url, headers=headers, timeout=10)
        assert page.status_code == 200 and lesson.title in page.text, page.status_code

        results = {}
        for label, path in (("lesson page", lesson.url), ("static file", "/static/favicon.svg")):
            load(
                base + path, headers=headers, requests_total=args.clients * 4, clients=args.clients
            )
            results[label] = load(
                base + path, headers=headers, requests_total=args.requests, clients=args.clients
            )
        print(
            f"{args.requests} requests, {args.clients} concurrent clients, gunicorn 4x2, "
            "production settings, PostgreSQL"
        )
        for label, (latencies, wall) in results.items():
            print(
                f"{label:<12} p50 {1000 * percentile(latencies, 0.5):7.1f} ms  "
                f"p95 {1000 * percentile(latencies, 0.95):7.1f} ms  "
                f"mean {1000 * statistics.fmean(latencies):7.1f} ms  "
                f"{len(latencies) / wall:7.1f} req/s"
            )
        (page_lat, page_wall), (static_lat, static_wall) = results.values()
        print(
            f"lesson/static: p50 {percentile(page_lat, 0.5) / percentile(static_lat, 0.5):.2f}x  "
            f"p95 {percentile(page_lat, 0.95) / percentile(static_lat, 0.95):.2f}x  "
            f"throughput {(len(static_lat) / static_wall) / (len(page_lat) / page_wall):.2f}x lower"
        )
        return 0
    finally:
        if web is not None:
            web.stop()
        from django.db import connections

        connections.close_all()
        subprocess.run(
            ["psql", PG + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"],
            check=False,
        )


if __name__ == "__main__":
    sys.exit(main())
