"""A lesson page served from a cached shell, and its reader's own parts fetched after it.

Rendering the whole page for every request cost most of a lesson page's time (issue 18,
item 2): the layout (navigation, language switch, account menu) and the lesson's own
template are the same for every reader of one role in one language, yet Django's
templates rendered them anew each time. `lesson_page_render` renders the page once with
*holes* where the reader appears (the CSRF token of the page's forms, the name and role
in the account menu, and for a lesson of prose alone the completion panel), keeps the
result in the cache split at the holes, and for each request renders only what goes into
the holes.

The reader's own blocks (labs, quizzes, viewers, reading rooms...) and their completion
panel cost more than the rest of the page together (their queries and templates). A
lesson that has such blocks therefore shows, where they go, a placeholder that is part of
the shell, and the page fetches them once it has loaded, in one request to
`<lesson URL>reader-parts/` (READER_PARTS_SLUG): `lesson_reader_parts_response` renders
each block and the completion panel with the request, as the whole page would, each
marked to replace its placeholder by id (htmx out-of-band swaps). That request is routed
and checked by Wagtail like the page itself (LessonPage.route): the same view
restrictions, course access and prerequisites. A lesson of prose alone keeps its
completion panel in the page (one read, cheaper than a request). Among the parts, a lab's
form is itself kept as a shell (the same for every signed-in reader but for the form's
token and the reader's own trained models: `_lab_form_render`), and the lesson's exercises
and quizzes that the completion panel judges by are kept with the frame
(curriculum.lesson_frame.lesson_work_kept).

A hole is a marker made of a random token drawn for each rendering, so no authored text
can pose as one. Values put into holes are escaped (names) or rendered now from the
page's own template (completion), exactly as the full page would render them.

The key holds everything the shell's markup depends on: the lesson's frame key (live
revision, body digest, language), the frames' generation (any publish, move or deletion
of a page, any change to an image, document, site or view restriction), the navigation
this reader may follow (so a role's own menu is never shown to another), and a digest of
the templates (a deploy with changed templates never serves an older shell).

The full page, the reader's blocks in place, is rendered as before (`LessonPage.get_context`
and the template) for previews, for a reader who is not signed in, and for a request with
messages waiting to be shown (a one-off part of the layout).
"""

from __future__ import annotations

import copy
import hashlib
import secrets
from dataclasses import dataclass
from functools import cache as cache_in_process

from django.contrib import messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template import engines
from django.template.loader import get_template, render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.html import escape
from django.utils.safestring import mark_safe

from curriculum.lesson_frame import frame_generation, lesson_page_key, shared_cached
from curriculum.models import READER_PARTS_SLUG

# Relative to the lesson's own URL (which ends in a slash): the shell holds no path a
# request chose.
READER_PARTS_URL = f"{READER_PARTS_SLUG}/"

LESSON_TEMPLATE = "curriculum/lesson_page.html"
COMPLETION_TEMPLATE = "curriculum/_lesson_completion.html"
READER_PARTS_TEMPLATE = "curriculum/_lesson_reader_parts.html"
PENDING_TEMPLATE = "curriculum/_reader_part_pending.html"


@dataclass(frozen=True)
class Shell:
    """A rendered page split at its holes: literal, hole name, literal, ..., literal."""

    pieces: tuple[str, ...]

    def fill(self, values: dict[str, str]) -> str:
        return "".join(
            values[piece] if position % 2 else piece for position, piece in enumerate(self.pieces)
        )


class _Holes:
    """Markers for one rendering: `self["name"]` is a string no authored text can contain."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(16)

    def __getitem__(self, name: str) -> str:
        return f"{self.token}{name}{self.token}"

    def shell(self, rendered: str) -> Shell:
        # Splitting at the token gives literal, name, literal, name, ...: the markers'
        # opening and closing tokens sit either side of each hole's name.
        return Shell(tuple(rendered.split(self.token)))


class _ReaderInHoles:
    """The `user` the layout sees while the shell is rendered: signed in, its name and role
    holes (the layout shows nothing else of the user)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, holes: _Holes) -> None:
        self._holes = holes
        self.username = holes["user-name"]

    def get_full_name(self) -> str:
        return self._holes["user-name"]

    def get_role_display(self) -> str:
        return self._holes["user-role"]


@cache_in_process
def _templates_digest() -> str:
    """The sources of the lesson template and everything it extends or includes directly."""
    names = (
        LESSON_TEMPLATE,
        COMPLETION_TEMPLATE,
        PENDING_TEMPLATE,
        "base.html",
        "curriculum/_duration_basis.html",
    )
    sources = "\0".join(get_template(name).template.source for name in names)
    return hashlib.blake2b(sources.encode(), digest_size=8).hexdigest()


def _navigation_digest(nav_items) -> str:
    return hashlib.blake2b(repr(nav_items).encode(), digest_size=8).hexdigest()


def _request_context(request, page_context: dict) -> dict:
    """What a template rendered for this request sees: the page's own context, then the
    context processors' values (request, user, messages, navigation, CSRF token), which
    win as they do in a RequestContext."""
    flat = dict(page_context)
    for processor in engines["django"].engine.template_context_processors:
        flat.update(processor(request))
    return flat


def shell_usable(lesson, request) -> bool:
    """Whether this request's page may come from a shell (see the module docstring)."""
    return (
        lesson.live_revision_id is not None
        and not getattr(request, "is_preview", False)
        and request.user.is_authenticated
        and not len(messages.get_messages(request))  # counts without marking them shown
    )


def has_reader_parts(frame) -> bool:
    """Whether the lesson has blocks rendered per reader, fetched after the page."""
    return any(part.index is not None for part in frame.body)


def lesson_page_render(lesson, request) -> str:
    """The lesson page for this request, from the cached shell (rendered on a miss)."""
    page_context = lesson.get_shared_context(request)
    deferred = has_reader_parts(page_context["frame"])
    if not deferred:
        page_context.update(lesson.get_reader_context(request))
    context = _request_context(request, page_context)
    key = (
        f"curriculum:lesson-shell:{lesson_page_key(lesson)}:{frame_generation()}:"
        f"{_navigation_digest(context['nav_items'])}:{_templates_digest()}"
    )
    shell = shared_cached(key, lambda: _shell_render(context, deferred=deferred))
    user = request.user
    values = {
        "csrf": get_token(request),
        "user-name": escape(user.get_full_name() or user.username),
        "user-role": escape(user.get_role_display()),
    }
    if not deferred:
        values["completion"] = render_to_string(COMPLETION_TEMPLATE, context)
    return shell.fill(values)


def _shell_render(context: dict, *, deferred: bool) -> Shell:
    holes = _Holes()
    shell_context = {
        **context,
        "csrf_token": holes["csrf"],
        "user": _ReaderInHoles(holes),
        "reader_parts_url": READER_PARTS_URL if deferred else "",
    }
    if not deferred:
        shell_context["completion_html"] = holes["completion"]
    # No request: a RequestContext would put the processors' user and token back.
    return holes.shell(get_template(LESSON_TEMPLATE).render(shell_context))


def lesson_reader_parts_response(lesson, request) -> HttpResponse:
    """The reader's own blocks of this lesson and its completion panel, each marked to
    replace its placeholder in the page (see the module docstring). Never cached as a
    whole: it is one reader's, and changes as they work; a lab's form is kept with holes
    for the reader (_lab_form_render)."""
    # The blocks are rendered as the page's own: what they link back to as "this page"
    # (request.path: a quiz's "finish, then return here") is the lesson, not this request.
    page_request = copy.copy(request)
    page_request.path = request.path.removesuffix(READER_PARTS_URL)
    page_request.path_info = request.path_info.removesuffix(READER_PARTS_URL)
    shared = lesson.get_shared_context(page_request)
    # What the blocks and the panel use of a RequestContext, without its navigation (the
    # layout is not rendered here).
    context = {
        **shared,
        **lesson.get_reader_context(page_request),
        "user": request.user,
        "csrf_token": get_token(request),
    }
    parts = []
    for part in shared["frame"].body:
        if part.index is None:
            continue
        if part.block_type == LAB_BLOCK_TYPE and request.user.is_authenticated:
            html = _lab_form_render(lesson, part, shared=shared, context=context)
        else:
            # A StreamField converts only the blocks asked for (and their type's together).
            html = lesson.body[part.index].render(context=context)
        parts.append((part, html))
    context["reader_parts"] = parts
    response = HttpResponse(render_to_string(READER_PARTS_TEMPLATE, context))
    add_never_cache_headers(response)
    return response


# Reader parts whose markup is the same for every signed-in reader but for holes: a lab's
# form (its instructions, offers, image slider, prompt viewer, explainers) is rendered once
# per published lesson, language and generation, with holes for the form's CSRF token and
# the reader's own trained models. Rendering it, and reading its exercise to do so, was
# most of a lab lesson's parts (issue 18: ~2.6 ms per lab). An exercise saved or deleted
# bumps the generation (CurriculumConfig.ready); the image count and prompt viewer it shows
# are the cache's (labs.selectors.study_image_series_shown), so the form is kept no longer
# than they are.
LAB_BLOCK_TYPE = "lab"
LAB_FORM_TEMPLATES = ("blocks/lab_block.html", "viewer/viewer.html")


@dataclass(frozen=True)
class _LabFormShell:
    shell: Shell
    # hole name: (exercise pk, its model key, its model's title) for the own models' choice
    own_models_choices: dict[str, tuple[int, str, str]]


class _LabFormHoles:
    """What lab_own_models_choice asks for while a shared lab form is rendered."""

    def __init__(self, holes: _Holes) -> None:
        self._holes = holes
        self.choices: dict[str, tuple[int, str, str]] = {}

    def own_models_choice(self, exercise) -> str:
        name = f"own-models-{exercise.pk}"
        self.choices[name] = (
            exercise.pk,
            exercise.model_key,
            str(exercise.get_model_key_display()),
        )
        return self._holes[name]


def _lab_form_render(lesson, part, *, shared: dict, context: dict) -> str:
    """The lab block's markup for this reader: the kept form (rendered from the lesson's
    `shared` context on a miss) with the reader's token and own models (from `context`)."""
    from labs.selectors import IMAGE_COUNT_SHOWN_SECONDS
    from labs.templatetags.lab_runs import lab_own_models, lab_own_models_choice_render

    key = (
        f"curriculum:lab-form:{lesson_page_key(lesson)}:{frame_generation()}:{part.index}:"
        f"{_lab_form_templates_digest()}"
    )
    kept = shared_cached(
        key,
        lambda: _lab_form_shell_render(lesson, part, shared),
        seconds=IMAGE_COUNT_SHOWN_SECONDS,
    )
    values = {"csrf": context["csrf_token"]}
    if kept.own_models_choices:
        own_models = lab_own_models(context, context["user"])
        for name, (exercise_pk, model_key, model_title) in kept.own_models_choices.items():
            values[name] = lab_own_models_choice_render(
                exercise_pk=exercise_pk,
                model_key=model_key,
                model_title=model_title,
                own_models=own_models,
            )
    return mark_safe(kept.shell.fill(values))  # noqa: S308 - pieces rendered by templates


def _lab_form_shell_render(lesson, part, shared: dict) -> _LabFormShell:
    holes = _Holes()
    lab_holes = _LabFormHoles(holes)
    # What every reader sees alike, nothing of the reader or the request (not their
    # completion, not the request Page.get_context put in): a signed-in reader whose name
    # and role would be holes never filled (a fill would fail loudly), the token and
    # models as holes.
    shell_context = {
        **shared,
        "request": None,
        "user": _ReaderInHoles(holes),
        "csrf_token": holes["csrf"],
        "lab_form_holes": lab_holes,
    }
    rendered = str(lesson.body[part.index].render(context=shell_context))
    return _LabFormShell(shell=holes.shell(rendered), own_models_choices=lab_holes.choices)


@cache_in_process
def _lab_form_templates_digest() -> str:
    sources = "\0".join(get_template(name).template.source for name in LAB_FORM_TEMPLATES)
    return hashlib.blake2b(sources.encode(), digest_size=8).hexdigest()
