"""A real LTI 1.3 platform for the tests: lti1p3platform (PyPI) in its own virtualenv and
process, on a loopback port (tests/lti_tests/platform_server.py is the small LMS around it).

The virtualenv is made once and cached (ARTEFACT_LTI_PLATFORM_VENV, default
~/.cache/artefact/lti-platform-venv-<hash of platform-requirements.txt>): `scripts/bootstrap.sh
--browser` makes it, and the first test that needs it makes it if bootstrap did not.

    python -m tests.lti_tests.lms install
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import requests

from config.localservices import ChildProcess, child_start, free_port
from tests.peer_venvs import peer_venv_install

HERE = Path(__file__).parent
REQUIREMENTS = HERE / "platform-requirements.txt"
SERVER = HERE / "platform_server.py"

CLIENT_ID = "artefact-tool"
DEPLOYMENT_ID = "deployment-1"
# The registration's uuid is fixed so the platform knows the tool's login URL before a
# test (its database flushed after each) makes the registration.
REGISTRATION_UUID = "7e1c6a52-3f0b-4c52-9d0e-6a1f4e2b9c01"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
GRADER = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#Grader"


def platform_install() -> Path:
    """The platform's virtualenv, made on first use (tests.peer_venvs)."""
    return peer_venv_install(
        REQUIREMENTS, name="lti-platform", env_var="ARTEFACT_LTI_PLATFORM_VENV"
    )


class LtiPlatform:
    """One platform: start, stop (an outage) and start again on the same port."""

    def __init__(self, root: Path, *, tool_base: str, members=(), lineitems=()) -> None:
        self.venv = platform_install()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "platform.log"
        self.config_path = root / "platform.json"
        self.tool_base = tool_base.rstrip("/")
        self.config_path.write_text(
            json.dumps(
                {
                    "port": self.port,
                    "tool": {
                        "client_id": CLIENT_ID,
                        "deployment_id": DEPLOYMENT_ID,
                        "oidc_login_url": f"{self.tool_base}/lti/login/{REGISTRATION_UUID}/",
                        "launch_url": f"{self.tool_base}/lti/launch/",
                        "jwks_url": f"{self.tool_base}/lti/jwks/",
                    },
                    "members": list(members),
                    "lineitems": list(lineitems),
                }
            )
        )
        self.process: ChildProcess | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = child_start(
                "lti-platform",
                [str(self.venv / "bin" / "python"), str(SERVER), str(self.config_path)],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.process.alive():
                break
            try:
                requests.get(f"{self.url}/jwks", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"the LTI platform did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def received(self) -> dict:
        """What the platform received: scores, deep-linked content items, errors."""
        return requests.get(f"{self.url}/_received", timeout=5).json()

    def sign(self, claims: dict) -> str:
        """The claims as an id_token signed with the platform's own key."""
        return requests.post(f"{self.url}/_sign", json=claims, timeout=5).json()["jwt"]

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""


if __name__ == "__main__" and sys.argv[1:] == ["install"]:
    print(platform_install())
