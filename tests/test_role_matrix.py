"""Every URL the project defines, for anonymous and each role, with the status expected.

A URL added to the project without a row here fails `test_every_url_is_in_the_matrix`.
Third-party URL trees (Django admin, Wagtail admin, Wagtail page serving) are owned as a
whole and represented by one URL each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from labs.models import LabRun, LabRunStatus
from labs.services import lab_run_create

LOGIN = "login"  # expected: redirected to the login page
WHO = ("anonymous", "resident", "outsider", "educator", "examiner", "admin")


@dataclass(frozen=True)
class Row:
    key: str  # URL name, or "<prefix>*" for a third-party tree
    method: str
    url: Callable[[dict], str]
    expected: dict[str, int | str]
    data: Callable[[dict], dict] | None = None


def every(status):
    return dict.fromkeys(WHO, status)


def signed_in(status, anonymous=LOGIN):
    return {**every(status), "anonymous": anonymous}


MATRIX = [
    Row("health", "get", lambda c: reverse("health"), every(200)),
    Row(
        "admin_login_redirect",
        "get",
        lambda c: reverse("admin_login_redirect"),
        {**every(302), "anonymous": LOGIN},
    ),
    Row("home", "get", lambda c: reverse("home"), every(200)),
    Row("login", "get", lambda c: reverse("login"), every(200)),
    Row("logout", "post", lambda c: reverse("logout"), every(302)),
    Row("password_change", "get", lambda c: reverse("password_change"), signed_in(200)),
    Row("password_change_done", "get", lambda c: reverse("password_change_done"), signed_in(200)),
    Row("labs:run_list", "get", lambda c: reverse("labs:run_list"), signed_in(200)),
    Row(
        "labs:run_create",
        "post",
        lambda c: reverse("labs:run_create", args=[c["exercise"].pk]),
        {**signed_in(302), "outsider": 403},
        data=lambda c: {"severity": "20", "lesson_id": c["lesson"].pk},
    ),
    Row(
        "labs:run_detail",
        "get",
        lambda c: reverse("labs:run_detail", args=[c["run"].pk]),
        {**signed_in(200), "outsider": 404},
    ),
    Row(
        "labs:run_status",
        "get",
        lambda c: reverse("labs:run_status", args=[c["run"].pk]),
        {**signed_in(200), "outsider": 404},
    ),
    Row(
        "labs:run_output",
        "get",
        lambda c: reverse("labs:run_output", args=[c["run"].pk, "original_image"]),
        {**signed_in(200), "outsider": 404},
    ),
    Row(
        "labs:run_cancel",
        "post",
        lambda c: reverse("labs:run_cancel", args=[c["run"].pk]),
        {**signed_in(302), "outsider": 404, "educator": 404, "examiner": 404},
    ),
    Row(
        "django-admin/*",
        "get",
        lambda c: reverse("admin:index"),
        {**signed_in(302), "admin": 200},
    ),
    Row(
        "cms/*",
        "get",
        lambda c: reverse("wagtailadmin_home"),
        {**signed_in(302), "educator": 200, "admin": 200},
    ),
    Row(
        "wagtail-pages/*",
        "get",
        lambda c: c["lesson"].url,
        {**signed_in(200), "outsider": 403},
    ),
]

THIRD_PARTY_PREFIXES = {"django-admin/": "django-admin/*", "cms/": "cms/*"}


def _project_url_keys() -> set[str]:
    """URL names of the project's own views plus one key per third-party tree."""
    keys = set()

    def walk(patterns, namespace=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                prefix = str(entry.pattern)
                if prefix in THIRD_PARTY_PREFIXES:
                    keys.add(THIRD_PARTY_PREFIXES[prefix])
                elif entry.urlconf_module.__name__.startswith("wagtail."):
                    keys.add("wagtail-pages/*")
                else:
                    inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                    walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern):
                assert entry.name, f"Every project URL needs a name: {entry.pattern}"
                keys.add(f"{namespace}{entry.name}")

    walk(get_resolver().url_patterns)
    return keys


def test_every_url_is_in_the_matrix():
    assert _project_url_keys() == {row.key for row in MATRIX}


@pytest.fixture
def matrix_context(demo_lesson, people, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    exercise = demo_lesson.body[1].value["exercise"]
    run = lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    run.original_image.save("original_image.png", ContentFile(b"\x89PNG fake"), save=False)
    run.status = LabRunStatus.SUCCEEDED
    run.save()
    return {"lesson": demo_lesson, "exercise": exercise, "run": run, "people": people}


@pytest.mark.django_db
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.key)
@pytest.mark.parametrize("who", WHO)
def test_role_matrix(client, matrix_context, row, who):
    if who != "anonymous":
        client.force_login(matrix_context["people"][who])
    # A fresh run per request keeps cancel/create rows independent of each other.
    LabRun.objects.filter(pk=matrix_context["run"].pk).update(status=LabRunStatus.SUCCEEDED)
    url = row.url(matrix_context)
    data = row.data(matrix_context) if row.data else {}
    response = getattr(client, row.method)(url, data)
    expected = row.expected[who]
    if expected == LOGIN:
        assert response.status_code == 302, (who, row.key, response.status_code)
        # Follow at most two hops (the Django admin's login forwards to ours).
        for _hop in range(2):
            if response["Location"].startswith(reverse("login")):
                break
            response = client.get(response["Location"])
        assert response["Location"].startswith(reverse("login")), response["Location"]
    else:
        assert response.status_code == expected, (who, row.key, response.status_code)
