"""Bad input gets styled pages, never a traceback; production settings pass the deploy check."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import path

ROOT = Path(__file__).resolve().parents[1]


def broken_view(request):
    raise RuntimeError("secret internal detail")


urlpatterns = [path("boom/", broken_view)]


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    """manage.py in a child process, so that settings are read from `env` afresh."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.django_db
def test_unknown_url_gets_the_styled_404(client, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert 'class="site-header"' in body  # the site's own layout, not Django's plain page


@pytest.mark.django_db
def test_server_error_is_styled_and_hides_the_traceback(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "secret internal detail" not in body
    assert "Traceback" not in body


def test_deploy_check_with_production_settings_is_clean():
    env = {
        **os.environ,
        "ARTEFACT_ENV": "production",
        "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-0123456789",
        "ALLOWED_HOSTS": "artefact.example.org",
        "DEID_SECRET": "z" * 60,
        "DATABASE_URL": "sqlite:////tmp/artefact-deploy-check.sqlite3",
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {**os.environ, "ARTEFACT_ENV": "production"}
    env.pop("SECRET_KEY", None)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_demo_set_up_is_refused_under_production_settings():
    env = {
        **os.environ,
        "ARTEFACT_ENV": "production",
        "SECRET_KEY": "y" * 60,
        "ALLOWED_HOSTS": "artefact.example.org",
        "DEID_SECRET": "z" * 60,
        "DATABASE_URL": "sqlite:////tmp/artefact-demo-refused.sqlite3",
    }
    result = manage("demo_setup", env=env)
    assert result.returncode != 0
    assert "refused under production settings" in result.stderr
