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
from tests.studies_tests.matrix_support import dicomweb_url, study_courses_url

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
    Row(
        "curriculum:course_enrol",
        "post",
        lambda c: reverse(
            "curriculum:course_enrol", args=[c["lesson"].get_parent().get_parent().pk]
        ),
        {**every(403), "anonymous": LOGIN, "resident": 302, "outsider": 302},
    ),
    Row(
        "curriculum:course_progress",
        "get",
        lambda c: reverse(
            "curriculum:course_progress", args=[c["lesson"].get_parent().get_parent().pk]
        ),
        {**every(403), "anonymous": LOGIN, "educator": 200, "admin": 200},
    ),
    Row(
        "curriculum:lesson_complete",
        "post",
        lambda c: reverse("curriculum:lesson_complete", args=[c["lesson"].pk]),
        {**every(403), "anonymous": LOGIN, "resident": 302},
    ),
    Row(
        "curriculum:my_progress", "get", lambda c: reverse("curriculum:my_progress"), signed_in(200)
    ),
    Row(
        "curriculum:search",
        "get",
        lambda c: reverse("curriculum:search") + "?q=noise",
        every(200),
    ),
    # DICOMweb (studies.dicomweb): clients get 401 with a Basic challenge, not a login
    # page; a resident outside every course that sees the study gets 404 for it, and an
    # empty answer from searches.
    *[
        Row(f"dicomweb:{name}", "get", dicomweb_url(name, **extra), {**signed_in(200, 401), **who})
        for name, extra, who in [
            ("studies", {}, {}),
            ("series_search", {}, {}),
            ("instance_search", {}, {}),
            ("study", {}, {"outsider": 404}),
            ("study_metadata", {}, {"outsider": 404}),
            ("study_thumbnail", {}, {"outsider": 404}),
            ("study_series", {}, {"outsider": 404}),
            ("study_instances", {}, {"outsider": 404}),
            ("series", {}, {"outsider": 404}),
            ("series_metadata", {}, {"outsider": 404}),
            ("series_thumbnail", {}, {"outsider": 404}),
            ("series_instances", {}, {"outsider": 404}),
            ("instance", {}, {"outsider": 404}),
            ("instance_metadata", {}, {"outsider": 404}),
            ("instance_rendered", {}, {"outsider": 404}),
            ("instance_thumbnail", {}, {"outsider": 404}),
            ("instance_frames", {"frames": "1"}, {"outsider": 404}),
            ("frames_rendered", {"frames": "1"}, {"outsider": 404}),
            ("instance_bulkdata", {"tag": "7FE00010"}, {"outsider": 404}),
            ("unknown_resource", {"rest": "nonsense"}, {**signed_in(404, 401)}),
        ]
    ],
    Row(
        "study_import",
        "get",
        lambda c: reverse("study_import"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "study_list",
        "get",
        lambda c: reverse("study_list"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "study_courses",
        "get",
        study_courses_url,
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "labs:model_card",
        "get",
        lambda c: reverse("labs:model_card", args=["ct-lesion"]),
        signed_in(200),
    ),
    Row(
        "labs:uploaded_models",
        "get",
        lambda c: reverse("labs:uploaded_models"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "labs:uploaded_model_create",
        "get",
        lambda c: reverse("labs:uploaded_model_create"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    # The viewer page: any signed-in user; the images themselves are guarded by DICOMweb.
    Row("viewer:page", "get", lambda c: reverse("viewer:page", args=["1.2.3"]), signed_in(200)),
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


def _outcome(client, row: Row, who: str, context: dict) -> str | None:
    """None when the response matches the matrix, else what went wrong."""
    client.logout()
    if who != "anonymous":
        client.force_login(context["people"][who])
    # Cancel and create rows change the run; every request starts from a finished run.
    LabRun.objects.filter(pk=context["run"].pk).update(status=LabRunStatus.SUCCEEDED)
    data = row.data(context) if row.data else {}
    response = getattr(client, row.method)(row.url(context), data)
    expected = row.expected[who]
    if expected != LOGIN:
        if response.status_code != expected:
            return f"{who}: expected {expected}, got {response.status_code}"
        return None
    if response.status_code != 302:
        return f"{who}: expected a login redirect, got {response.status_code}"
    # Follow at most two hops (the Django admin's login forwards to ours).
    for _hop in range(2):
        if response["Location"].startswith(reverse("login")):
            return None
        response = client.get(response["Location"])
    if response.status_code == 302 and response["Location"].startswith(reverse("login")):
        return None
    return f"{who}: expected a login redirect, got {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.key)
def test_role_matrix(client, matrix_context, row):
    """One test per URL; all six kinds of visitor are checked, and all mismatches reported."""
    mismatches = [
        problem
        for who in WHO
        if (problem := _outcome(client, row, who, matrix_context)) is not None
    ]
    assert not mismatches, f"{row.key}: " + "; ".join(mismatches)
