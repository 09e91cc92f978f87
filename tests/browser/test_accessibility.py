"""Every HTML page of the role matrix, as each kind of visitor sees it, passes axe-core with no
serious or critical violation and no rule switched off (issue 17 item 9).

The pages are the role matrix's own rows (tests/test_role_matrix.py): a GET row whose status
for the visitor is 200 and whose answer is HTML. The Django and Wagtail admins are upstream
code: their violations are counted and written to the report, never failed on.

One browser context per visitor, one page load per URL. Each page is checked once it has
loaded, with its scripts run: the state a person first sees. A fragment (an htmx status or
live panel, HTML without a document around it) is checked where it lives: inside a page of
the site, after the home page's content, so that document-level rules (title, lang,
landmarks, a level-one heading) judge a page a person could have, and every rule still judges
the fragment's markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from django.urls import reverse

from tests.browser.axe_support import axe_violations, blocking_violations, violations_describe
from tests.browser.session import log_in
from tests.test_role_matrix import MATRIX, WHO, matrix_world_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Third-party pages: reported, not failed (the admins; Swagger UI, the API reference).
UPSTREAM = {"django-admin/*", "cms/*", "api:docs"}


@pytest.fixture
def matrix_context(transactional_db, settings, tmp_path):
    """The role matrix's world, committed so the live server sees it (the matrix itself
    builds it once per module inside a transaction it rolls back)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return matrix_world_build()


def matrix_pages_for(who: str, context: dict) -> Iterator[tuple[str, str]]:
    """(matrix key, URL) of every GET row the visitor reaches with a 200, in the matrix's
    order. URLs are built one at a time, as the matrix does: building one may change the
    objects behind the next (the finished attempt is the attempt once submitted)."""
    for row in MATRIX:
        if row.method == "get" and row.expected[who] == 200:
            yield row.key, row.url(context)


def fragment_show(page, base_url: str, html: str) -> None:
    """The fragment as htmx would place it: into a page of the site (here at the end of the
    home page's main region)."""
    page.goto(base_url + "/", wait_until="load")
    page.evaluate(
        "(html) => document.querySelector('main').insertAdjacentHTML('beforeend', html)", html
    )


def _file_name(key: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", key.lower()).strip("-")


@pytest.mark.parametrize("who", WHO)
def test_every_matrix_page_passes_axe(
    who,
    live_server,
    matrix_context,
    browser_page,
    screenshot_dir,
):
    page = browser_page
    if who != "anonymous":
        log_in(page, live_server.url, matrix_context["people"][who].username)

    report, failures, upstream = {}, [], {}
    for key, url in matrix_pages_for(who, matrix_context):
        answer = page.request.get(live_server.url + url, max_redirects=0)
        assert answer.status == 200, f"{who} {key}: {answer.status}"
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue
        body = answer.text()
        if "<html" in body.lower():
            page.goto(live_server.url + url, wait_until="load")
        else:
            key = f"{key} (fragment)"
            fragment_show(page, live_server.url, body)
        violations = axe_violations(page)
        blocking = blocking_violations(violations)
        report[key] = {"url": url, "blocking": len(blocking), "violations": violations}
        print(f"axe {who:9} {key:40} serious/critical={len(blocking)} all={len(violations)}")
        if key in UPSTREAM:
            upstream[key] = len(blocking)
        elif blocking:
            failures.append(f"{key} ({url}): {violations_describe(blocking)}")
        page.screenshot(path=screenshot_dir / f"{_file_name(key)}.png", full_page=True)

    (screenshot_dir / "axe.json").write_text(json.dumps(report, indent=2))
    print(f"axe {who}: {len(report)} pages; upstream admin serious/critical: {upstream}")
    assert report, f"no HTML page checked for {who}"
    assert not failures, f"{who}: {len(failures)} pages fail axe:\n" + "\n".join(failures)


def upstream_admin_pages(context: dict) -> Iterator[tuple[str, str]]:
    """The Wagtail and Django admin pages people of this project use: the page tree and the
    lesson's editor, and the list and add form of every registered snippet and model."""
    from django.contrib import admin
    from wagtail.snippets.models import get_snippet_models

    lesson = context["lesson"]
    yield "wagtailadmin_home", reverse("wagtailadmin_home")
    yield "wagtailadmin_explore", reverse("wagtailadmin_explore", args=[lesson.get_parent().pk])
    yield "wagtailadmin_pages:edit", reverse("wagtailadmin_pages:edit", args=[lesson.pk])
    for model in get_snippet_models():
        for view in ("list", "add"):
            url_name = model.snippet_viewset.get_url_name(view)
            yield url_name, reverse(url_name)
    yield "admin:index", reverse("admin:index")
    for model in admin.site._registry:
        for view in ("changelist", "add"):
            url_name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
            yield url_name, reverse(url_name)


def test_upstream_admin_pages_are_counted(
    live_server,
    matrix_context,
    browser_page,
    screenshot_dir,
):
    """The admins are Wagtail's and Django's templates: their violations are counted and
    reported (printed, and in axe.json), never failed on."""
    page = browser_page
    log_in(page, live_server.url, matrix_context["people"]["admin"].username)
    report = {}
    for key, url in upstream_admin_pages(matrix_context):
        response = page.goto(live_server.url + url, wait_until="load")
        if response.status != 200:  # e.g. models nobody adds by hand (audit entries)
            report[key] = {"url": url, "status": response.status}
            continue
        violations = axe_violations(page)
        blocking = blocking_violations(violations)
        report[key] = {"url": url, "blocking": len(blocking), "violations": violations}
        print(
            f"axe upstream {key:50} serious/critical={len(blocking)} all={len(violations)}"
            + (f" ({violations_describe(blocking)})" if blocking else "")
        )
    (screenshot_dir / "axe.json").write_text(json.dumps(report, indent=2))
    checked = [entry for entry in report.values() if "blocking" in entry]
    print(
        f"axe upstream: {len(checked)} admin pages, "
        f"{sum(entry['blocking'] > 0 for entry in checked)} with serious/critical violations, "
        f"{sum(entry['blocking'] for entry in checked)} such violations in all"
    )
    assert checked, "no admin page could be checked"
