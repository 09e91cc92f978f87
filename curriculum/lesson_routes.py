"""A lesson's URL to its page in one query, before Wagtail walks the tree.

Wagtail's serve view finds the page for a URL in `Page.route_for_request`: it looks the
site up by host name (a query), takes the site's root page in the reader's locale (a
locale query, the root, then its specific page) and asks the root to route the rest, which
for a lesson is one more query (CurriculumIndexPage.route). Five queries and their ORM
work were a fifth of a lesson page's time (issue 18).

`LessonRouteMiddleware` answers the first four from the cache: the site and the url_path
of its root in the reader's language are the same for every request to that host, kept
under the lesson frames' generation (curriculum.lesson_frame), which any publish, move or
deletion of a page, and any change to a Site, bumps. Only the lesson itself is read, by its
url_path, live pages only. Wagtail's serve view takes a route already found from
`request._wagtail_route_for_request` and the site from `request._wagtail_site` (both its
documented per-request caches), so everything after routing stays Wagtail's own: its
view-restriction check, every before_serve_page hook (course access, prerequisites) and
the page's serve. A lesson's reader parts (`<lesson>/reader-parts/`): the lesson is found the
same way and LessonPage.route routes the rest. A URL that is not a lesson is routed by
Wagtail as before.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.http.request import split_domain_port
from django.utils.translation import get_language
from wagtail import views as wagtail_views
from wagtail.models import Site

from curriculum.lesson_frame import FRAME_SECONDS, frame_generation, shared_cached
from curriculum.models import READER_PARTS_SLUG, CurriculumIndexPage


def _site_and_course_root(request) -> tuple[Site | None, str | None]:
    """The request's Wagtail site and, when its root (in the reader's language) is the
    course index, that root's url_path; from the cache after the first request."""
    hostname = split_domain_port(request._get_raw_host())[0]
    host_digest = hashlib.blake2b(hostname.encode(), digest_size=8).hexdigest()
    key = (
        f"curriculum:site-root:{frame_generation()}:{host_digest}:"
        f"{request.get_port()}:{get_language()}"
    )

    def find() -> tuple[Site | None, str | None]:
        site = Site.find_for_request(request)
        root = None if site is None else site.root_page.localized.specific
        return (site, root.url_path if isinstance(root, CurriculumIndexPage) else None)

    return shared_cached(key, find)


def _live_lesson_at(course_root: str, components: list[str]):
    """CurriculumIndexPage.live_lesson_at, the lesson kept in the cache under the frames'
    generation (a publish, unpublish, move or deletion of any page bumps it). Reading the
    lesson row and building the page object was a tenth of a lesson page's time. Only
    lessons found are kept: a path that is not a lesson costs no cache entry, so made-up
    URLs cannot fill the cache. Not shared_cached: each request needs its own page object
    (the translation hook changes it in memory), which unpickling from the cache gives."""
    path_digest = hashlib.blake2b("/".join(components).encode(), digest_size=12).hexdigest()
    key = f"curriculum:live-lesson:{frame_generation()}:{course_root}:{path_digest}"
    lesson = cache.get(key)
    if lesson is None:
        lesson = CurriculumIndexPage.live_lesson_at(course_root, components)
        if lesson is not None:
            cache.set(key, lesson, timeout=FRAME_SECONDS)
    return lesson


def lesson_route_prime(request, path: str) -> None:
    """Find the site and, when `path` names a live lesson, the lesson, the way Wagtail's
    routing would, and leave both where Wagtail's serve view looks first."""
    if hasattr(request, "_wagtail_route_for_request"):
        return
    try:
        # A host outside ALLOWED_HOSTS is not cached under a key it chose; Wagtail answers it.
        request.get_host()
    except DisallowedHost:
        return
    site, course_root = _site_and_course_root(request)
    request._wagtail_site = site
    if course_root is None:
        return
    components = [component for component in path.split("/") if component]
    # Below a lesson, only its reader parts: the lesson routes the rest of the path itself.
    below = components[-1:] if components[-1:] == [READER_PARTS_SLUG] else []
    lesson = _live_lesson_at(course_root, components[: len(components) - len(below)])
    if lesson is not None:
        request._wagtail_route_for_request = lesson.route(request, below)


class LessonRouteMiddleware:
    """Primes Wagtail's route for requests that reach its serve view (see the docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if view_func is wagtail_views.serve:
            # Wagtail's own URL pattern passes the path by position; the home page's by name.
            path = view_args[0] if view_args else view_kwargs.get("path", "")
            lesson_route_prime(request, path)
        return None
