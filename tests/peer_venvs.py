"""Cached virtualenvs for the independent peers the tests run in their own processes (the
xAPI tests' LRS, the single sign-on tests' OpenID provider): each peer's pins stay apart
from ours, and the virtualenv is made once per requirements file.

A virtualenv lives at ~/.cache/artefact/<name>-venv-<hash of its requirements file> (or
where its environment variable says), and is made by `scripts/bootstrap.sh --browser` or by
the first test that needs it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path


def peer_venv_path(requirements: Path, *, name: str, env_var: str) -> Path:
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    default = Path.home() / ".cache" / "artefact" / f"{name}-venv-{digest}"
    return Path(os.environ.get(env_var, default))


def peer_venv_install(requirements: Path, *, name: str, env_var: str) -> Path:
    """The peer's virtualenv, made on first use; a lock keeps parallel test workers from
    making it twice."""
    venv = peer_venv_path(requirements, name=name, env_var=env_var)
    stamp = venv / ".artefact-installed"
    if stamp.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "-r",
                    str(requirements),
                ],
                check=True,
            )
            stamp.write_text(requirements.read_text())
    return venv
