"""Lesson viewed: Wagtail's before_serve_page hook, so curriculum needs no change."""

import logging

from wagtail import hooks

from accounts.permissions import may
from curriculum.models import LessonPage
from xapi.receivers import lesson_viewed
from xapi.services import xapi_enabled


@hooks.register("before_serve_page")
def xapi_lesson_viewed(page, request, serve_args, serve_kwargs):
    # Only a signed-in person's view of a lesson is an event; previews and GETs of other
    # pages are not. Returning None lets Wagtail serve the page as usual.
    if not xapi_enabled() or not isinstance(page.specific, LessonPage):
        return None
    if serve_kwargs.get("reader_parts"):
        return None  # the page's own parts, fetched after it: the same view (LessonPage.route)
    user = request.user
    # Asked as the page asks: a lesson the person may not open was not viewed.
    if (
        request.method == "GET"
        and user.is_authenticated
        and may(user, "curriculum.open_lesson", page.specific)
    ):
        try:
            lesson_viewed(user=user, lesson=page.specific)
        except Exception:  # never stand between a resident and their lesson
            logging.getLogger(__name__).exception("xAPI lesson view not queued")
    return None
