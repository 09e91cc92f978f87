"""The lesson page from a cached shell (curriculum.lesson_shell): rendered once, filled for
each reader with their own name, role, token and completion, its reader's own blocks
fetched after it, and the same page the full rendering gives."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory
from django.urls import reverse
from wagtail.models import PageViewRestriction

from accounts.models import Role
from accounts.services import enrolment_create
from curriculum import lesson_shell
from curriculum.models import CompletionSource, LessonPage
from curriculum.services import lesson_completion_record
from tests.curriculum_tests.conftest import page_add, page_as
from tests.factories import UserFactory
from tests.lesson_pages import READER_PARTS_MARK, lesson_page_read, reader_parts_split

pytestmark = [pytest.mark.django_db]  # each test starts from an empty cache (tests/conftest.py)

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
COMPLETED = "You have completed this lesson."


@pytest.fixture
def shell_renders(monkeypatch):
    """How many times a shell was rendered (the rest came from the cache)."""
    calls = []
    render = lesson_shell._shell_render

    def counted(context, **options):
        calls.append(1)
        return render(context, **options)

    monkeypatch.setattr(lesson_shell, "_shell_render", counted)
    return calls


@pytest.fixture
def prose_lesson(demo_lesson):
    module = demo_lesson.get_parent().specific
    return page_add(module, LessonPage(title="Reading a histogram", slug="reading-a-histogram"))


def resident_named(course, first_name, last_name="Reader"):
    resident = UserFactory(role=Role.RESIDENT, first_name=first_name, last_name=last_name)
    enrolment_create(user=resident, course=course)
    return resident


def full_page(user, lesson) -> str:
    """The page as Wagtail renders it whole (the reference), for the same reader."""
    request = RequestFactory().get(lesson.url)
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    page = LessonPage.objects.get(pk=lesson.pk)
    response = LessonPage.__mro__[1].serve(page, request)  # Wagtail's Page.serve
    return response.render().content.decode()


def complete_url(lesson) -> str:
    return reverse("curriculum:lesson_complete", args=[lesson.pk])


def without_tokens(markup: str) -> str:
    return CSRF_INPUT.sub('name="csrfmiddlewaretoken" value=""', markup)


def without_parts_loader(markup: str) -> str:
    """The page without the element that fetched its reader's parts (which stays, hidden)."""
    return re.sub(r"\n  <div hidden data-reader-parts [^>]*></div>", "\n  ", markup)


def test_each_reader_gets_their_own_name_completion_and_token(
    client, demo_lesson, prose_lesson, shell_renders
):
    course = demo_lesson.get_parent().get_parent()
    ada, ben = resident_named(course, "Ada"), resident_named(course, "Ben")
    lesson_completion_record(user=ben, lesson=prose_lesson, source=CompletionSource.MANUAL)

    ada_page = page_as(client, ada, prose_lesson)
    ben_page = page_as(client, ben, prose_lesson)
    assert len(shell_renders) == 1  # Ben's page came from Ada's shell
    assert "Ada Reader" in ada_page and "Ben Reader" not in ada_page
    assert "Ben Reader" in ben_page and "Ada Reader" not in ben_page
    assert COMPLETED in ben_page and COMPLETED not in ada_page
    assert "Mark complete" in ada_page and "Mark complete" not in ben_page
    assert ada_page.count("Resident") == ben_page.count("Resident") >= 1  # the role

    # Ada's token is hers and works: "Mark complete" from the page completes the lesson.
    client.force_login(ada)
    token = CSRF_INPUT.search(page_as(client, ada, prose_lesson)).group(1)
    client.handler.enforce_csrf_checks = True
    completed = client.post(complete_url(prose_lesson), {"csrfmiddlewaretoken": token})
    assert completed.status_code in (200, 302)
    assert COMPLETED in page_as(client, ada, prose_lesson)


def test_the_shell_page_is_the_page_rendered_whole(client, demo_lesson, prose_lesson, people):
    """The lab lesson (prose, callout, lab, references) with its parts in place, and a prose
    lesson, served twice from the shell, are the markup Wagtail's full rendering gives the
    same reader."""
    resident = people["resident"]
    for lesson in (demo_lesson, prose_lesson):
        page_as(client, resident, lesson)  # renders and caches the shell
        from_shell = page_as(client, resident, lesson)
        assert without_parts_loader(without_tokens(from_shell)) == without_tokens(
            full_page(resident, lesson)
        )
    lab_page = page_as(client, resident, demo_lesson)
    assert lab_page.count('class="block block-') >= 4 and 'class="lab-panel"' in lab_page


def test_a_role_never_sees_another_roles_menu(client, demo_lesson, people, shell_renders):
    """The shell is kept per navigation: the educator's teaching menu stays theirs."""
    educator_page = page_as(client, people["educator"], demo_lesson)
    resident_page = page_as(client, people["resident"], demo_lesson)
    assert len(shell_renders) == 2
    assert "Authoring" in educator_page and "Authoring" not in resident_page
    assert "Study library" not in resident_page


def test_a_name_is_escaped_where_the_shell_puts_it(client, demo_lesson, prose_lesson):
    course = demo_lesson.get_parent().get_parent()
    hostile = resident_named(course, '<script>alert("x")</script>', "&amp;")
    page_as(client, UserFactory(role=Role.EDUCATOR), prose_lesson)  # another reader first
    page = page_as(client, hostile, prose_lesson)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;amp;" in page


def test_a_message_waiting_is_shown_once_with_the_page(client, prose_lesson, people):
    """A page with a message to show is rendered whole; the next one comes from the shell
    again, without the message."""
    resident = people["resident"]
    page_as(client, resident, prose_lesson)  # the shell is cached, without messages
    marked = client.post(complete_url(prose_lesson), follow=True)
    assert marked.redirect_chain and marked.status_code == 200
    shown = marked.content.decode()
    assert "Lesson marked complete." in shown and COMPLETED in shown
    again = page_as(client, resident, prose_lesson)
    assert "Lesson marked complete." not in again and COMPLETED in again


def test_a_new_revision_is_seen_at_once(client, prose_lesson, people):
    page_as(client, people["resident"], prose_lesson)
    prose_lesson.title = "Reading a histogram, revised"
    prose_lesson.save_revision().publish()
    assert "Reading a histogram, revised" in page_as(client, people["resident"], prose_lesson)


def test_a_lesson_with_a_lab_shows_a_place_for_it_and_fetches_it(client, demo_lesson, people):
    """The page holds no block of the reader's own: a placeholder per block and for the
    completion, and the request that fills them; the parts answer one of each, never cached."""
    client.force_login(people["resident"])
    page = client.get(demo_lesson.url).content.decode()
    assert READER_PARTS_MARK in page and 'hx-get="reader-parts/"' in page
    assert 'class="lab-panel"' not in page and "Mark complete" not in page
    placeholders = re.findall(r'<div id="(reader-part-\d+)" class="reader-part pending"', page)
    assert placeholders and 'id="lesson-completion"' in page
    parts_response = client.get(demo_lesson.url + "reader-parts/")
    assert parts_response.status_code == 200
    assert "no-store" in parts_response["Cache-Control"]
    assert "private" in parts_response["Cache-Control"]
    parts = reader_parts_split(parts_response.content.decode())
    assert set(parts) == {*placeholders, "lesson-completion"}
    assert 'class="lab-panel"' in "".join(parts.values())
    assert "<html" not in parts_response.content.decode()  # parts, not a page


def test_a_prose_lesson_fetches_nothing_after_it(client, prose_lesson, people):
    client.force_login(people["resident"])
    page = client.get(prose_lesson.url).content.decode()
    assert READER_PARTS_MARK not in page and "Mark complete" in page


def test_reader_parts_are_for_whom_the_page_is(client, demo_lesson, people):
    """The parts are routed and checked like the page: signed out, not enrolled, or held back
    by a view restriction, nobody gets a lab from them."""
    parts_url = demo_lesson.url + "reader-parts/"
    signed_out = client.get(parts_url)
    assert signed_out.status_code == 302 and "/accounts/login/" in signed_out["Location"]
    client.force_login(UserFactory(role=Role.RESIDENT))  # not enrolled
    assert client.get(parts_url).status_code == 403
    client.force_login(people["resident"])
    assert client.get(parts_url).status_code == 200
    restriction = PageViewRestriction.objects.create(
        page=demo_lesson.get_parent(),
        restriction_type=PageViewRestriction.PASSWORD,
        password="faculty-2026",
    )
    asked = client.get(parts_url).content.decode()
    assert 'name="password"' in asked and 'class="lab-panel"' not in asked
    restriction.delete()
    # Below a page that is not a lesson, or a lesson taken offline, there are none.
    assert client.get(demo_lesson.get_parent().url + "reader-parts/").status_code == 404
    assert client.get(parts_url + "more/").status_code == 404
    demo_lesson.unpublish()
    assert client.get(parts_url).status_code == 404


def test_the_lessons_parts_follow_the_readers_progress(client, demo_lesson, people):
    """The page comes from the cache; the parts are read anew each time: a completion
    recorded after the page was cached shows in the next parts."""
    resident = people["resident"]
    before = page_as(client, resident, demo_lesson)
    assert COMPLETED not in before
    lesson_completion_record(user=resident, lesson=demo_lesson, source=CompletionSource.LAB)
    assert COMPLETED in lesson_page_read(client, demo_lesson.url).content.decode()
