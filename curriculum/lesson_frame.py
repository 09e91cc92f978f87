"""The part of a lesson page that is the same for every reader, rendered once and cached.

A lesson page is read far more often than it changes, and most of it does not depend on
who reads it: the breadcrumbs, the outcomes, the previous and next lessons, the modules
its module requires, the prose, figures, callouts, references and videos of its body, and
its duration (words, and the median time residents took in each lab: an aggregate over
every resident, at most one frame's lifetime old).
`lesson_frame` builds those once per published revision and keeps them in the cache
(settings.CACHES: Redis shared by every web process in production, process memory in the
embedded default). What depends on the reader (labs, quizzes, viewers whose overlays
depend on the role, completion, permissions) is rendered for each request from the
lesson's own blocks; the frame only says where those blocks go.

Shared blocks are rendered with a context that holds the page and nothing about the
request, so no reader's name, token or progress can end up in the cached markup.

Invalidation: the key holds the lesson's live revision and a digest of its body, so a newly
published revision of the lesson itself is seen at once by every process. Everything the
frame copies from other pages (titles and URLs of the course, module and neighbours, the
lessons of required modules) and from images and documents follows a generation counter
that any publish, unpublish, move or deletion of a page, and any change to an image or
document, bumps (`lesson_frames_invalidate`, connected in CurriculumConfig.ready). Frames
also expire after FRAME_SECONDS, a backstop for a per-process cache, where a bump reaches
only the process that made it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, fields

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import get_language
from wagtail.models import Page

from accounts import roles
from accounts.request_memo import remembered, request_memo_forget
from curriculum.models import LessonPage, ModulePage
from curriculum.selectors import (
    LessonDuration,
    LessonWork,
    course_of,
    lesson_duration,
    lesson_ids_completed,
    lesson_neighbours,
    lesson_work,
    module_lesson_ids,
)

# Block types whose rendering depends only on the block's value: the same markup for
# every reader. Every other block type (labs, quizzes, viewers, reading rooms, reader
# studies, cohort labs, de-identification) shows forms, results or role-dependent content
# and is rendered per request.
SHARED_BLOCK_TYPES = frozenset({"paragraph", "figure", "callout", "references", "video"})
FRAME_SECONDS = 10 * 60
GENERATION_KEY = "curriculum:lesson-frame-generation"


@dataclass(frozen=True)
class PageLink:
    title: str
    url: str


@dataclass(frozen=True)
class Outcome:
    text: str
    domain_label: str
    level: str


@dataclass(frozen=True)
class BodyPart:
    """One block of the body: its type, and either its markup (shared) or its index in
    the page's StreamField (rendered per request)."""

    block_type: str
    html: str | None = None
    index: int | None = None


@dataclass(frozen=True)
class RequiredModule:
    """A module the lesson's module requires, with its live lessons (all of which a
    resident must have completed)."""

    module_id: int
    lesson_ids: tuple[int, ...]


@dataclass(frozen=True)
class LessonFrame:
    course_id: int | None
    course: PageLink | None
    module_id: int | None
    module: PageLink | None
    outcomes: tuple[Outcome, ...]
    previous_lesson: PageLink | None
    next_lesson: PageLink | None
    body: tuple[BodyPart, ...]
    required_modules: tuple[RequiredModule, ...]
    # Words and the median time residents took in each lab: the same for every reader (the
    # lab times are at most FRAME_SECONDS or one publish old).
    duration: LessonDuration
    # Whether a Wagtail view restriction applies (on the lesson or an ancestor): almost never,
    # so LessonPage.get_view_restrictions answers "none" without its two queries.
    view_restricted: bool


# The frame's shape in its cache key: frames cached by a version of the code with other
# fields are not read back by this one (a rolling deploy shares the cache).
FRAME_FORMAT = hashlib.blake2b(
    ",".join(field.name for field in fields(LessonFrame)).encode(), digest_size=4
).hexdigest()


def frame_generation() -> int:
    """The current generation: bumped whenever a cached frame may have become stale.
    Read once per request (the route and the frame both ask)."""
    return remembered(("lesson-frame-generation",), _generation_read)


def _generation_read() -> int:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        # add(): of two processes starting at once, both end up reading the same value.
        cache.add(GENERATION_KEY, _generation_start(), timeout=None)
        generation = cache.get(GENERATION_KEY, 1)
    return generation


# What shared_cached keeps in this process: key -> (monotonic expiry, value), oldest first.
_KEPT_LOCALLY: OrderedDict[str, tuple[float, object]] = OrderedDict()
_KEPT_LOCALLY_MAX = 512
_KEPT_LOCALLY_LOCK = threading.Lock()


def shared_cached(key: str, build, *, seconds: int = FRAME_SECONDS):
    """The value cached under `key`, built and cached (for `seconds`) when missing.

    For values that never change under their key (frames, shells: the key holds the
    generation and the page's revision), so this process keeps the last few hundred in
    memory too: reading a frame or a shell from Redis and unpickling it cost every
    request more than using it. A bump of the generation changes the keys asked for, so
    what is kept here is never served stale; kept entries also expire after `seconds`
    (at most twice that after the entry was first cached)."""
    now = time.monotonic()
    with _KEPT_LOCALLY_LOCK:
        kept = _KEPT_LOCALLY.get(key)
        if kept is not None and kept[0] > now:
            _KEPT_LOCALLY.move_to_end(key)
            return kept[1]
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout=seconds)
    with _KEPT_LOCALLY_LOCK:
        _KEPT_LOCALLY[key] = (now + seconds, value)
        _KEPT_LOCALLY.move_to_end(key)
        while len(_KEPT_LOCALLY) > _KEPT_LOCALLY_MAX:
            _KEPT_LOCALLY.popitem(last=False)
    return value


def lesson_work_kept(lesson: LessonPage) -> LessonWork:
    """lesson_work of this published lesson (its exercises and quizzes, which its reader's
    completion is judged by), kept with the lesson's frame: converting the blocks to read
    them cost a query per lab family and one for quizzes on every reader-parts request.
    Any snippet a lesson's blocks choose, saved or deleted, bumps the generation
    (CurriculumConfig.ready). The exercises are shared by the requests of this process and
    only read."""
    if lesson.pk is None or lesson.live_revision_id is None:
        return lesson_work(lesson)
    key = f"curriculum:lesson-work:{lesson_page_key(lesson)}:{frame_generation()}"
    return shared_cached(key, lambda: lesson_work(lesson))


def lesson_frames_invalidate(**_signal_kwargs) -> None:
    """Every cached frame is stale from now on (a page or a media item changed)."""
    request_memo_forget()
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no generation yet: nothing cached under one either
        cache.add(GENERATION_KEY, _generation_start(), timeout=None)


def _generation_start() -> int:
    """A random first generation: after a cache flush no generation repeats one whose
    entries a process still keeps in memory (shared_cached) for pages with the same ids."""
    return secrets.randbelow(2**48) + 1


def _link(page) -> PageLink | None:
    return None if page is None else PageLink(title=page.title, url=page.url)


def _frame_build(lesson: LessonPage) -> LessonFrame:
    course = course_of(lesson)
    module = ModulePage.objects.filter(pk=lesson.get_parent().pk).first()
    previous_lesson, next_lesson = lesson_neighbours(lesson=lesson)
    required_modules: tuple[RequiredModule, ...] = ()
    if module is not None:
        required_modules = tuple(
            RequiredModule(
                module_id=prerequisite.required_module_id,
                lesson_ids=tuple(module_lesson_ids(module=prerequisite.required_module)),
            )
            for prerequisite in module.prerequisites.select_related("required_module")
            if prerequisite.required_module.live
        )
    # The shared blocks see the page and nothing of the request (see the module docstring).
    shared_context = {"page": lesson, "self": lesson}
    body = []
    for index, raw in enumerate(lesson.body.raw_data):
        block_type = raw["type"]
        if block_type in SHARED_BLOCK_TYPES:
            body.append(
                BodyPart(block_type, html=str(lesson.body[index].render(context=shared_context)))
            )
        else:
            body.append(BodyPart(block_type, index=index))
    return LessonFrame(
        course_id=None if course is None else course.pk,
        course=_link(course),
        module_id=None if module is None else module.pk,
        module=_link(module),
        outcomes=tuple(
            Outcome(text=o.text, domain_label=str(o.get_domain_display()), level=o.level)
            for o in lesson.outcomes.all()
        ),
        previous_lesson=_link(previous_lesson),
        next_lesson=_link(next_lesson),
        body=tuple(body),
        required_modules=required_modules,
        duration=lesson_duration_shared(lesson),
        view_restricted=Page.get_view_restrictions(lesson).exists(),
    )


def lesson_page_key(lesson: LessonPage) -> str:
    """What a cached rendering of this published lesson depends on in the page itself: its
    live revision, its body as this page object holds it, and the reader's language.

    The body's digest keeps cached block indices true to the blocks rendered beside them,
    even after a save that made no revision (or a translation put in place for this read).
    One page is asked several times while it is served (access rule, view restrictions,
    prerequisites, context, shell): the digest is kept on the object with the body value it
    was taken of, and taken again once another body is put in place."""
    kept = getattr(lesson, "_lesson_body_digest_kept", None)
    if kept is not None and kept[0] is lesson.body:
        body_digest = kept[1]
    else:
        body_digest = hashlib.blake2b(
            json.dumps(list(lesson.body.raw_data), sort_keys=True, cls=DjangoJSONEncoder).encode(),
            digest_size=12,
        ).hexdigest()
        lesson._lesson_body_digest_kept = (lesson.body, body_digest)
    return f"{lesson.pk}:{lesson.live_revision_id}:{body_digest}:{get_language()}"


def lesson_frame(lesson: LessonPage) -> LessonFrame:
    """The reader-independent part of this lesson as last published (see the module
    docstring for what it holds and when it is rebuilt).

    Asked several times while one request serves the page (the access rules, the page's
    context), it is read from the cache once per page object: a frame is kept on the
    object with the revision and body it was read for."""
    if lesson.pk is None or lesson.live_revision_id is None:
        return _frame_build(lesson)  # a preview of a page never published: nothing to share
    page_key = lesson_page_key(lesson)
    kept = getattr(lesson, "_lesson_frame_kept", None)
    if kept is not None and kept[0] == page_key:
        return kept[1]
    key = f"curriculum:lesson-frame:{FRAME_FORMAT}:{page_key}:{frame_generation()}"
    frame = shared_cached(key, lambda: _frame_build(lesson))
    lesson._lesson_frame_kept = (page_key, frame)
    return frame


def lesson_duration_shared(lesson: LessonPage) -> LessonDuration:
    """lesson_duration as every reader sees it, cached like the frames (per live revision,
    language and generation, FRAME_SECONDS at most): a module's or a course's progress
    page shows every lesson's duration, which counted each lesson's words and read each
    lab's run times on every view."""
    if lesson.pk is None or lesson.live_revision_id is None:
        return lesson_duration(lesson)
    key = (
        f"curriculum:lesson-duration:{lesson.pk}:{lesson.live_revision_id}:"
        f"{get_language()}:{frame_generation()}"
    )
    return shared_cached(key, lambda: lesson_duration(lesson))


def page_course_id(page) -> int | None:
    """The primary key of the course a page belongs to (itself included), None outside
    courses; for a lesson, from its frame (no query once the frame is cached)."""
    if isinstance(page, LessonPage):
        return lesson_frame(page).course_id
    course = course_of(page)
    return None if course is None else course.pk


def lesson_prerequisites_unmet(user, page) -> list[ModulePage]:
    """Modules a resident must complete before opening this lesson; staff are never held back.

    Empty for pages that are not lessons (a module page stays readable and lists what it
    needs) and for staff roles. The required modules and their lessons come from the
    lesson's frame; only the resident's completions are read, in one call.
    """
    if not roles.is_resident(user) or page.specific_class is not LessonPage:
        return []
    frame = lesson_frame(page.specific)
    if not frame.required_modules:
        return []
    completed = lesson_ids_completed(
        user=user,
        lesson_ids={pk for required in frame.required_modules for pk in required.lesson_ids},
    )
    unmet_ids = [
        required.module_id
        for required in frame.required_modules
        if not set(required.lesson_ids) <= completed
    ]
    if not unmet_ids:
        return []
    found = ModulePage.objects.in_bulk(unmet_ids)
    return [found[pk] for pk in unmet_ids if pk in found]
