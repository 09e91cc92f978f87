"""A lesson's URL found in one query (curriculum.lesson_routes): the page found is the one
Wagtail's routing finds, and everything Wagtail checks after routing still runs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail.models import PageViewRestriction, Site

from accounts.request_memo import RequestMemoMiddleware
from accounts.roles import is_enrolled_in
from accounts.services import enrolment_create
from curriculum.models import LessonPage
from tests.curriculum_tests.conftest import page_add
from tests.lesson_pages import lesson_page_read

pytestmark = [pytest.mark.django_db]  # each test starts from an empty cache (tests/conftest.py)


def lesson_reads(queries) -> list[str]:
    """The reads of a lesson by its URL path (the route's query)."""
    return [
        q["sql"][:120]
        for q in queries.captured_queries
        if '"curriculum_lessonpage"' in q["sql"] and '"url_path" =' in q["sql"]
    ]


def test_a_lesson_is_found_without_walking_the_tree(client, demo_lesson, people):
    client.force_login(people["resident"])
    with CaptureQueriesContext(connection) as first:
        assert client.get(demo_lesson.url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        page = client.get(demo_lesson.url)
    assert page.status_code == 200 and demo_lesson.title in page.content.decode()
    tables = " ".join(query["sql"] for query in queries.captured_queries)
    # No site, locale or root page read: one read of the page tree finds the lesson, the
    # first time; after it the lesson comes from the cache until a page changes.
    assert '"wagtailcore_site"' not in tables and '"wagtailcore_locale"' not in tables
    assert len(lesson_reads(first)) == 1, lesson_reads(first)
    assert lesson_reads(queries) == []
    # Any publish bumps the generation: the lesson is read again, then kept again.
    demo_lesson.save_revision().publish()
    with CaptureQueriesContext(connection) as after_publish:
        assert client.get(demo_lesson.url).status_code == 200
    assert len(lesson_reads(after_publish)) == 1, lesson_reads(after_publish)


def test_unpublished_and_moved_lessons_answer_as_wagtail_would(client, demo_lesson, people):
    client.force_login(people["resident"])
    module = demo_lesson.get_parent().specific
    other = page_add(module, LessonPage(title="Second look", slug="second-look"))
    old_url = other.url
    assert client.get(old_url).status_code == 200

    other.unpublish()
    assert client.get(old_url).status_code == 404

    other.save_revision().publish()
    other.refresh_from_db()
    other.slug = "a-second-look"
    other.save_revision().publish()
    other.refresh_from_db()
    assert client.get(old_url).status_code == 404
    assert client.get(other.url).status_code == 200
    # A path that names no page is Wagtail's 404, the same as before.
    assert client.get(demo_lesson.url + "no-such-page/").status_code == 404


def test_wagtail_view_restrictions_still_guard_a_lesson(client, demo_lesson, people):
    """Routing is ours, the checks after it are Wagtail's: a lesson restricted to a group
    the resident is not in is refused although they are enrolled."""
    client.force_login(people["resident"])
    assert client.get(demo_lesson.url).status_code == 200
    restriction = PageViewRestriction.objects.create(
        page=demo_lesson.get_parent(), restriction_type=PageViewRestriction.GROUPS
    )
    restriction.groups.add(Group.objects.create(name="Faculty only"))
    refused = client.get(demo_lesson.url)
    assert refused.status_code in (302, 403)
    assert demo_lesson.title not in refused.content.decode()
    # The resident joins the group: the restriction (still there) lets them in.
    people["resident"].groups.add(restriction.groups.get())
    assert client.get(demo_lesson.url).status_code == 200
    restriction.delete()
    assert demo_lesson.title in client.get(demo_lesson.url).content.decode()


def test_a_lesson_without_restrictions_asks_none_once_cached(client, demo_lesson, people):
    """Whether any view restriction applies is kept in the lesson's frame: Wagtail's two
    queries for them (ancestors, restrictions) are not made on every page."""
    client.force_login(people["resident"])
    assert client.get(demo_lesson.url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(demo_lesson.url).status_code == 200
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "wagtailcore_pageviewrestriction" not in sql and '"alias_of_id"' not in sql
    # A password put on the course (no groups: only the restriction's own save says it
    # exists) asks even an enrolled resident for it at once...
    restriction = PageViewRestriction.objects.create(
        page=demo_lesson.get_parent().get_parent(),
        restriction_type=PageViewRestriction.PASSWORD,
        password="faculty-2026",
    )
    asked = lesson_page_read(client, demo_lesson.url).content.decode()
    assert 'name="password"' in asked and 'class="lab-panel"' not in asked
    # ... and once it is lifted, the lesson is read without asking again.
    restriction.delete()
    assert 'class="lab-panel"' in lesson_page_read(client, demo_lesson.url).content.decode()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(demo_lesson.url).status_code == 200
    assert "wagtailcore_pageviewrestriction" not in " ".join(
        query["sql"] for query in queries.captured_queries
    )


def test_a_host_wagtail_does_not_serve_is_not_cached_for_it(client, demo_lesson, people):
    """The site is cached per host; a host outside ALLOWED_HOSTS is left to Django (400)."""
    client.force_login(people["resident"])
    assert client.get(demo_lesson.url, HTTP_HOST="evil.example").status_code == 400
    assert client.get(demo_lesson.url).status_code == 200


def test_a_changed_site_is_seen_at_once(client, demo_lesson, people):
    client.force_login(people["resident"])
    assert client.get(demo_lesson.url).status_code == 200
    site = Site.objects.get(is_default_site=True)
    site.root_page = demo_lesson.get_parent()  # the module becomes the site's root
    site.save()
    # The lesson now lives at the module's root: its old URL no longer names it.
    assert client.get(demo_lesson.url).status_code == 404
    assert client.get(f"/{demo_lesson.slug}/").status_code == 200


def test_an_enrolment_made_during_a_request_is_seen_by_that_request(people, demo_lesson):
    """Enrolments are read once per request (accounts.request_memo), and forgotten when the
    request changes them."""
    course = demo_lesson.get_parent().get_parent().specific
    newcomer = people["educator"].__class__.objects.create(username="newcomer", role="resident")
    seen = []

    def view(request):
        seen.append(is_enrolled_in(newcomer, course.pk))
        enrolment_create(user=newcomer, course=course)
        seen.append(is_enrolled_in(newcomer, course.pk))
        return None

    RequestMemoMiddleware(view)(object())
    assert seen == [False, True]
