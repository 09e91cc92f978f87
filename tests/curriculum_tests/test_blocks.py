"""Blocks render through their templates; bad input is refused or shown as a placeholder."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from wagtail.blocks import StreamValue, StructBlockValidationError

from curriculum.blocks import (
    CalloutBlock,
    CitationBlock,
    FigureBlock,
    LessonBodyBlock,
    ReferencesBlock,
)
from labs.models import LabExercise
from tests.lesson_pages import lesson_page_read

pytestmark = pytest.mark.django_db


def test_callout_renders_its_kind_and_text():
    block = CalloutBlock()
    value = block.to_python({"kind": "clinical_pearl", "title": "Look", "text": "<p>Here.</p>"})
    html = block.render(value)
    assert "Clinical pearl: Look" in html
    assert "<p>Here.</p>" in html


def test_references_link_the_doi():
    block = ReferencesBlock()
    value = block.to_python(
        {
            "heading": "References",
            "citations": [
                {
                    "authors": "Mongan J, Moy L, Kahn CE Jr",
                    "title": "CLAIM",
                    "source": "Radiol Artif Intell",
                    "year": 2020,
                    "doi": "10.1148/ryai.2020200029",
                    "url": "",
                }
            ],
        }
    )
    assert 'href="https://doi.org/10.1148/ryai.2020200029"' in block.render(value)


def test_a_citation_needs_a_valid_doi_or_a_url():
    block = CitationBlock()
    base = {"authors": "A", "title": "T", "source": "S", "year": 2020, "url": ""}
    with pytest.raises(StructBlockValidationError):
        block.clean(block.to_python({**base, "doi": ""}))
    with pytest.raises(StructBlockValidationError):
        block.clean(block.to_python({**base, "doi": "not-a-doi"}))
    block.clean(block.to_python({**base, "doi": "10.1000/xyz"}))


def test_a_figure_needs_alt_text():
    block = FigureBlock()
    with pytest.raises((ValidationError, StructBlockValidationError)):
        block.clean(block.to_python({"image": None, "alt_text": "", "caption": ""}))


def test_a_lab_block_pointing_to_a_deleted_exercise_shows_a_placeholder(client, demo_lesson):
    exercise = LabExercise.objects.create(
        title="Soon gone",
        model_key="ct-tissue",
        study_key="ct-small",
        perturbation_key="gaussian-noise",
    )
    demo_lesson.body.append(("lab", {"exercise": exercise, "introduction": ""}))
    demo_lesson.save_revision().publish()
    exercise.delete()
    client.force_login(demo_lesson.owner or _resident(demo_lesson))
    response = lesson_page_read(client, demo_lesson.url)
    assert response.status_code == 200
    assert "This lab is no longer available" in response.content.decode()


def _resident(lesson):
    from accounts.models import Enrolment

    return Enrolment.objects.filter(course=lesson.get_parent().get_parent()).first().user


def test_deleted_figure_and_video_show_placeholders():
    body = StreamValue(
        LessonBodyBlock(),
        [
            {"type": "figure", "value": {"image": 999999, "alt_text": "x", "caption": ""}},
            {"type": "video", "value": {"video": 999999, "title": "x", "transcript": ""}},
        ],
        is_lazy=True,
    )
    html = "".join(block.render() for block in body)
    assert "This figure is no longer available" in html
    assert "This video is no longer available" in html


def test_there_is_no_raw_html_block():
    assert "raw_html" not in LessonBodyBlock.base_blocks
    assert {"paragraph", "figure", "callout", "lab", "references", "video"} <= set(
        LessonBodyBlock.base_blocks
    )


def test_the_loader_sanitises_authored_html():
    from curriculum.services import _html_clean

    dirty = '<p onclick="x()">Safe <script>alert(1)</script><a href="https://a.example">a</a></p>'
    assert (
        _html_clean(dirty)
        == '<p>Safe <a href="https://a.example" rel="noopener noreferrer">a</a></p>'
    )
