"""A real OpenID provider for the single sign-on tests: django-oidc-provider in a small
throw-away Django project (idp_site/), in its own cached virtualenv (tests.peer_venvs) and
process, on a free loopback port, with its own SQLite database.

    python -m tests.accounts_tests.idp install
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

SITE = Path(__file__).with_name("idp_site")
REQUIREMENTS = SITE / "requirements.txt"


def idp_install() -> Path:
    return peer_venv_install(REQUIREMENTS, name="oidc-provider", env_var="ARTEFACT_IDP_VENV")


class OidcProvider:
    """One provider: set up once (people, one client), started, stopped (an outage) and
    started again on the same port and data. `claims_set` changes what it says about a
    person from the next sign-in on."""

    client_id = "artefact-tests"
    client_secret = "idp-client-secret-for-tests"

    def __init__(self, root: Path, *, people: list[dict], redirect_uri: str) -> None:
        self.venv = idp_install()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.url}/openid"
        self.log_path = root / "idp.log"
        self.process: ChildProcess | None = None
        spec = {
            "people": people,
            "client": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uri": redirect_uri,
            },
        }
        subprocess.run(
            [str(self.venv / "bin" / "python"), str(SITE / "idp_setup.py")],
            input=json.dumps(spec),
            text=True,
            env=self.env(),
            cwd=SITE,
            check=True,
            capture_output=True,
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "idp_settings",
            "PYTHONPATH": str(SITE),
            "IDP_DIR": str(self.root),
            "IDP_SITE_URL": self.url,
        }

    def claims_set(self, username: str, claims: dict) -> None:
        path = self.root / "claims.json"
        every = json.loads(path.read_text()) if path.exists() else {}
        every[username] = claims
        path.write_text(json.dumps(every))

    def settings(self) -> dict:
        """Artefact's settings for signing in here (what an operator puts in the environment)."""
        return {
            "SSO_ENABLED": True,
            "OIDC_PROVIDER_NAME": "Test Provider",
            "OIDC_ISSUER": self.issuer,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.issuer}/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.issuer}/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.issuer}/userinfo",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.issuer}/jwks",
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_RP_SIGN_ALGO": "RS256",
            "OIDC_RP_SCOPES": "openid profile email artefact",
        }

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = child_start(
                "oidc-provider",
                [
                    str(self.venv / "bin" / "python"),
                    "-m",
                    "django",
                    "runserver",
                    f"127.0.0.1:{self.port}",
                    "--noreload",
                ],
                env=self.env(),
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.alive():
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/openid/.well-known/openid-configuration",
                    timeout=1,
                ):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError(
            f"The OpenID provider did not start:\n{self.log_path.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def sso_configure(settings, provider: OidcProvider) -> OidcProvider:
    """Artefact (pytest-django's `settings`) configured for the provider, as the environment
    would configure it: provider "Faculty" are educators, "Student" residents."""
    for name, value in provider.settings().items():
        setattr(settings, name, value)
    settings.OIDC_ROLE_MAP = {"Student": "resident", "Faculty": "educator"}
    settings.OIDC_ALLOWED_ROLES = ["resident", "educator", "examiner"]
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "accounts.sso.ArtefactOIDCBackend",
    ]
    return provider


if __name__ == "__main__" and sys.argv[1:] == ["install"]:
    print(idp_install())
