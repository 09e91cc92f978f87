"""What the benchmarks share: percentiles, waiting for a server, and starting gunicorn and
Orthanc on loopback. Redis and Celery workers start through config.localservices, as they
do for the run command and the tests."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.localservices import BIN, ChildProcess, child_start  # noqa: E402

PYTHON = str(BIN / "python")
PASSWORD = "bench-password-not-secret-9f3"  # noqa: S105 (a throw-away user on loopback)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, printed with every figure: the machine is
    shared, and a ratio measured under load means less than one measured idle."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def verdict(goal: str, met: bool, measured: str) -> str:
    """One line stating a benchmark's goal, what this run measured, and whether it held."""
    return f"goal: {goal} -- measured {measured} -- {'MET' if met else 'NOT MET'}"


def latency_summary(label: str, seconds: list[float]) -> str:
    """One line: p50, p95 and mean of a list of durations, in milliseconds."""
    return (
        f"{label:<34} p50 {1000 * percentile(seconds, 0.5):8.1f} ms   "
        f"p95 {1000 * percentile(seconds, 0.95):8.1f} ms   mean "
        f"{1000 * statistics.fmean(seconds):8.1f} ms"
    )


def call_durations(function, runs: int) -> list[float]:
    """Seconds of each of `runs` calls of `function`, for a same-run ratio."""
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        durations.append(time.perf_counter() - started)
    return durations


def worker_bench_env(workdir: Path, *, redis_port: int) -> dict[str, str]:
    """Environment for a throw-away platform (SQLite, media, Redis URL) under `workdir`,
    also made this process's own: the benchmarks import Django in-process as well."""
    env = {
        **os.environ,
        "ARTEFACT_VAR_DIR": str(workdir),
        "MEDIA_ROOT": str(workdir / "media"),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "LOG_LEVEL": "WARNING",
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ.update(env)
    return env


def wait_http(url: str, *, headers: dict | None = None, auth=None, seconds: float = 60) -> None:
    """Return once `url` answers without a server error; raise after `seconds`."""
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, headers=headers, auth=auth, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def manage(env: Mapping[str, str], *command: str, **kw) -> None:
    """`manage.py <command>` in a child process with `env`; raises when it fails."""
    subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True, **kw)


def gunicorn_start(
    *,
    env: Mapping[str, str],
    port: int,
    workers: int,
    threads: int | None = None,
    log_level: str | None = None,
    **kw,
) -> ChildProcess:
    """gunicorn serving the project on 127.0.0.1:`port` (not waited for: see wait_http)."""
    command = [
        str(BIN / "gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    if threads is not None:
        command += ["--threads", str(threads)]
    if log_level is not None:
        command += ["--log-level", log_level]
    return child_start("web", command, env=env, **kw)


def orthanc_start(*, work_dir: Path, port: int) -> ChildProcess:
    """The Debian Orthanc with its DICOMweb plugin, HTTP on 127.0.0.1:`port`, no auth."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "Name": "bench",
        "HttpPort": port,
        "DicomServerEnabled": False,
        "DicomPort": port + 1,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "StorageDirectory": str(work_dir / "storage"),
        "IndexDirectory": str(work_dir / "index"),
        "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "StudiesMetadata": "Full"},
    }
    (work_dir / "orthanc.json").write_text(json.dumps(config))
    log = (work_dir / "orthanc.log").open("wb")
    return child_start(
        "orthanc", ["Orthanc", str(work_dir / "orthanc.json")], stdout=log, stderr=log
    )


def library_bench_env(work: Path) -> dict[str, str]:
    """Environment for a throw-away library, database and static root under `work`."""
    env = os.environ.copy()
    env.update(
        ARTEFACT_VAR_DIR=str(work / "var"),
        MEDIA_ROOT=str(work / "media"),
        DATABASE_URL=f"sqlite:///{work / 'bench.sqlite3'}",
        DJANGO_DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        STATIC_ROOT=str(work / "static"),
        # As production runs (config.settings: persistent connections under ARTEFACT_ENV
        # =production, which these benches do not set for want of its secrets and HTTPS).
        DATABASE_CONN_MAX_AGE="60",
    )
    (work / "var").mkdir()
    (work / "static").mkdir()
    return env


def library_bench_prepare(env: Mapping[str, str], *, collectstatic: bool = False) -> None:
    """Migrate, build and index the chest CT, and create the `bench` educator."""
    manage(env, "migrate", "-v0")
    manage(env, "library_load", "--only", "chest-ct", stdout=subprocess.DEVNULL)
    if collectstatic:
        manage(env, "collectstatic", "--noinput", "-v0")
    manage(
        env,
        "shell",
        "-c",
        "from accounts.models import User, Role;"
        f"u=User.objects.create_user('bench', password='{PASSWORD}'); "
        "u.role=Role.EDUCATOR; u.save()",
    )


def ours_and_orthanc_start(
    *,
    work: Path,
    env: Mapping[str, str],
    workers: int,
    children: list[ChildProcess],
    threads: int | None = None,
) -> tuple[str, str]:
    """gunicorn and Orthanc on free ports, both answering; appended to `children`.
    `threads`: gunicorn's threaded workers, as deployed (deploy/entrypoint.sh), which keep
    a client's connection open between requests as Orthanc does; None: single-threaded
    workers, which close it after every answer. Returns (our base URL, Orthanc's)."""
    from config.localservices import free_port

    our_port, orthanc_port = free_port(), free_port()
    children.append(
        gunicorn_start(
            env=env, port=our_port, workers=workers, threads=threads, log_level="warning"
        )
    )
    children.append(orthanc_start(work_dir=work / "orthanc", port=orthanc_port))
    base_url = f"http://127.0.0.1:{our_port}"
    orthanc_url = f"http://127.0.0.1:{orthanc_port}"
    # Several workers importing the project on a loaded 2-core machine can take minutes
    # (over five when other jobs share it: issue 18 re-measurement).
    wait_http(f"{base_url}/healthz", seconds=1200)
    wait_http(f"{orthanc_url}/system", seconds=300)
    return base_url, orthanc_url


def orthanc_load(orthanc_url: str, paths: list[Path]) -> None:
    import requests

    with requests.Session() as session:
        for path in paths:
            session.post(f"{orthanc_url}/instances", data=path.read_bytes()).raise_for_status()


def children_stop(children: list[ChildProcess]) -> None:
    for child in reversed(children):
        child.stop()
