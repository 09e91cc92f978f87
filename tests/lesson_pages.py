"""A lesson page as a browser shows it: the page, then its reader's parts swapped in.

A lesson with blocks of the reader's own (labs, quizzes, viewers) shows placeholders where
they go and fetches them after it has loaded (curriculum.lesson_shell); htmx puts each
fetched part in place of the element with its id. Tests that read what a resident sees
read the page through `lesson_page_read`, which does the same."""

from __future__ import annotations

import re

from curriculum.lesson_shell import READER_PARTS_URL

READER_PARTS_MARK = "data-reader-parts"
# Each part of the response: its element, marked to replace the page's element of its id.
_PART = re.compile(r'<div id="(?P<id>[^"]+)" class="reader-part" hx-swap-oob="true">')
# The page's placeholders: the reader's blocks and the completion panel, while loading.
_PENDING = {
    "block": re.compile(
        r'<div id="(?P<id>reader-part-\d+)" class="reader-part pending".*?</noscript></div>',
        re.DOTALL,
    ),
    "completion": re.compile(
        r'<div id="(?P<id>lesson-completion)" class="reader-part">'
        r'<section class="card pending".*?</section></div>',
        re.DOTALL,
    ),
}


def reader_parts_split(markup: str) -> dict[str, str]:
    """The parts of a reader-parts response by element id, as they will stand in the page."""
    starts = list(_PART.finditer(markup))
    parts = {}
    for number, start in enumerate(starts):
        end = starts[number + 1].start() if number + 1 < len(starts) else len(markup)
        # Each element is followed by one line break in the response.
        element = markup[start.start() : end].removesuffix("\n")
        parts[start["id"]] = element.replace(' hx-swap-oob="true"', "", 1)
    return parts


def lesson_page_read(client, url: str, **extra):
    """GET the lesson page at `url` and, when it fetches its reader's parts, those too, put
    in place as htmx puts them. The page's response is returned, its content the page as
    shown; `response.reader_parts` is the parts' response (None for a page without)."""
    response = client.get(url, **extra)
    response.reader_parts = None
    if response.status_code != 200 or READER_PARTS_MARK not in response.content.decode():
        return response
    parts_response = client.get(url + READER_PARTS_URL, **extra)
    assert parts_response.status_code == 200, parts_response.status_code
    response.reader_parts = parts_response
    parts = reader_parts_split(parts_response.content.decode())
    page = response.content.decode()
    for pattern in _PENDING.values():
        page = pattern.sub(lambda found: parts.pop(found["id"]), page)
    assert not parts, f"parts without a place in the page: {sorted(parts)}"
    response.content = page.encode()
    return response
