"""The shipped course's depth (issue 15, item 2): enough lessons, enough prose in each, and
primary sources cited in every lesson.

Words are counted by scripts/course_words.py (the HTML of text and callout blocks, tags
stripped), the same figure its report prints, so the test and the report cannot disagree.
"""

from __future__ import annotations

import runpy
from pathlib import Path

from django.conf import settings

from curriculum.content import course_read

prose_words = runpy.run_path(str(Path(settings.BASE_DIR) / "scripts" / "course_words.py"))[
    "prose_words"
]

MIN_LESSONS = 36
MIN_MEAN_WORDS = 700
MIN_LESSON_WORDS = 400


def test_the_course_has_enough_lessons_with_enough_prose():
    lessons = [lesson for module in course_read().modules for lesson in module.lessons]
    words = {lesson.path.name: prose_words(lesson.body) for lesson in lessons}
    assert len(lessons) >= MIN_LESSONS
    assert sum(words.values()) / len(words) >= MIN_MEAN_WORDS
    short = {name: count for name, count in words.items() if count < MIN_LESSON_WORDS}
    assert not short, short


def test_every_lesson_cites_its_sources():
    for module in course_read().modules:
        for lesson in module.lessons:
            citations = [
                citation
                for block in lesson.body
                if block["type"] == "references"
                for citation in block.get("citations", [])
            ]
            assert citations, lesson.path
            for citation in citations:
                assert citation.get("authors") and citation.get("title"), lesson.path
                assert isinstance(citation.get("year"), int), lesson.path


def test_the_word_count_counts_prose_only():
    body = [
        {"type": "text", "html": "<h2>Two words</h2><p>and three more</p>"},
        {"type": "callout", "html": "<p>one</p>"},
        {"type": "lab", "introduction": "not counted at all"},
        {"type": "references", "citations": [{"title": "not counted either"}]},
    ]
    assert prose_words(body) == 6
