"""A real learning record store for the tests: ralph (France Université Numérique's LRS),
in its own virtualenv and process, on a free loopback port, storing to the filesystem.

The virtualenv is made once and cached (ARTEFACT_RALPH_VENV, default
~/.cache/artefact/ralph-venv-<hash of ralph-requirements.txt>): `scripts/bootstrap.sh
--browser` makes it, and the first test that needs it makes it if bootstrap did not.

    python -m tests.xapi_tests.lrs install
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from config.localservices import ChildProcess, child_start, free_port
from tests.peer_venvs import peer_venv_install

REQUIREMENTS = Path(__file__).with_name("ralph-requirements.txt")


def ralph_install() -> Path:
    """The ralph virtualenv, made on first use (tests.peer_venvs)."""
    return peer_venv_install(REQUIREMENTS, name="ralph", env_var="ARTEFACT_RALPH_VENV")


# ralph 5.1.0's filesystem LRS backend writes each POST with the data backend's default
# operation, CREATE, which refuses an existing file: every POST after the first answers 500
# ("already exists and overwrite is not allowed"). Its APPEND operation is the one an LRS
# needs; the launcher makes it the backend's default, then serves ralph's own app.
LAUNCH = """
import sys
import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend
FSLRSBackend.default_operation_type = BaseOperationType.APPEND
uvicorn.run("ralph.api:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
"""


class RalphLrs:
    """One LRS: start, stop (an outage) and start again on the same port and data."""

    username = "artefact"
    password = "lrs-test-password"

    def __init__(self, root: Path) -> None:
        self.venv = ralph_install()
        self.root = root
        self.data_dir = root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.auth_file = root / "auth.json"
        self.log_path = root / "ralph.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/xAPI/"
        self.process: ChildProcess | None = None
        self._write_credentials()

    def _write_credentials(self) -> None:
        """ralph's basic-auth file: a bcrypt hash made by ralph's own bcrypt (4 rounds:
        fast, and this LRS lives for one test)."""
        hashed = subprocess.run(
            [
                str(self.venv / "bin" / "python"),
                "-c",
                "import bcrypt, sys; "
                "print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(4)).decode())",
                self.password,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        agent = {
            "objectType": "Agent",
            "account": {"homePage": "http://lrs.test", "name": "artefact"},
        }
        self.auth_file.write_text(
            json.dumps(
                [{"agent": agent, "scopes": ["all"], "hash": hashed, "username": self.username}]
            )
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RALPH_APP_DIR": str(self.root / "app"),
            "RALPH_AUTH_FILE": str(self.auth_file),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.data_dir),
        }

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = child_start(
                "ralph",
                [str(self.venv / "bin" / "python"), "-c", LAUNCH, str(self.port)],
                env=self.env(),
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.process.alive():
                break
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/__lbheartbeat__", timeout=1
                ):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError(f"ralph did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def stored(self) -> list[dict]:
        """Every statement the LRS stored, read from its own file."""
        stored = []
        for path in self.data_dir.glob("*.jsonl"):
            stored += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return stored

    def posts_received(self) -> int:
        """POSTs of statements that reached the LRS (its access log), stored or refused."""
        if not self.log_path.exists():
            return 0
        return self.log_path.read_text().count('"POST /xAPI/statements')


if __name__ == "__main__" and sys.argv[1:] == ["install"]:
    print(ralph_install())
