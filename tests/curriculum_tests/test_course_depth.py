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


# Issue 15, item 3: a curriculum reviewer's findings, corrected in the content. Wording that
# must not come back (each was wrong: see the issue), and sources that must stay cited.
WITHDRAWN_WORDING = (
    "raw detector values",  # stored pixel values of the reconstructed image
    "guaranteed not to collide",  # UIDs are designed to be unique
    "U-Net-style",  # ct-tissue is a three-convolution CNN
    "U-Nets pad",  # the original U-Net did not
    "the range its training covered",  # the model had no noise augmentation
)
KEPT_SOURCES = {
    "05-where-ai-fails/03-adversarial-inputs.toml": "1804.05296",  # Finlayson et al.
    "08-workflow-regulation-ethics/02-eu-mdr-and-ai-act.toml": "MDCG 2025-6",
    "03-data-protection/01-gdpr-for-radiologists.toml": "European Health Data Space",
}


def test_the_reviewers_corrections_stay_made():
    content = Path(settings.BASE_DIR) / "content"
    for path in content.rglob("*.toml"):
        text = path.read_text().lower()
        found = [wording for wording in WITHDRAWN_WORDING if wording.lower() in text]
        assert not found, (path, found)
    for name, source in KEPT_SOURCES.items():
        assert source in (content / name).read_text(), (name, source)


def test_the_word_count_counts_prose_only():
    body = [
        {"type": "text", "html": "<h2>Two words</h2><p>and three more</p>"},
        {"type": "callout", "html": "<p>one</p>"},
        {"type": "lab", "introduction": "not counted at all"},
        {"type": "references", "citations": [{"title": "not counted either"}]},
    ]
    assert prose_words(body) == 6
