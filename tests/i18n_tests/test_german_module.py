"""Module 1 in German: Wagtail translations of its pages, served at the same URLs in the
reader's language, with the same labs and quiz; German short answers accepted."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from wagtail.models import Locale

from accounts.services import enrolment_create
from assessments.models import Question
from assessments.scoring.registry import scorer_for
from curriculum.models import LessonPage, ModulePage
from curriculum.services import curriculum_content_load
from curriculum.translation import curriculum_translations_load
from tests.factories import people_create
from tests.lesson_pages import lesson_page_read

pytestmark = pytest.mark.django_db
MODULE = "dicom-and-the-information-model"


@pytest.fixture
def german_module():
    course, _report = curriculum_content_load(
        only_lessons={f"{MODULE}/reading-a-header", f"{MODULE}/dicomweb"}
    )
    lesson = LessonPage.objects.get(slug="reading-a-header")
    report = curriculum_translations_load()
    people = people_create()
    enrolment_create(user=people["resident"], course=course)
    return {"course": course, "lesson": lesson, "people": people, "report": report}


def _labs(page) -> list[int]:
    return [block.value["exercise"].pk for block in page.body if block.block_type == "lab"]


def test_the_german_lesson_is_a_wagtail_translation_that_keeps_its_labs(german_module):
    lesson = german_module["lesson"]
    german = lesson.get_translation(Locale.objects.get(language_code="de")).specific
    assert german.translation_key == lesson.translation_key and german.pk != lesson.pk
    assert german.live and german.title.startswith("Einen DICOM-Header lesen")
    assert _labs(german) == _labs(lesson) and len(_labs(lesson)) == 2
    assert [o.level for o in german.outcomes.all()] == [o.level for o in lesson.outcomes.all()]
    assert "Hounsfield-Einheiten" in german.outcomes.first().text
    module = ModulePage.objects.get(slug=MODULE, locale=Locale.get_default())
    assert module.get_translation(german.locale).title == "DICOM und das Informationsmodell"
    assert f"{MODULE}/reading-a-header (de)" in german_module["report"].written
    # Loading again rewrites the same translations, it does not add more.
    curriculum_translations_load()
    assert LessonPage.objects.filter(translation_key=lesson.translation_key).count() == 2


def test_a_german_reader_gets_the_german_lesson_at_the_same_url_with_its_lab(german_module):
    lesson, resident = german_module["lesson"], german_module["people"]["resident"]
    english, german = Client(), Client()
    for client in (english, german):
        client.force_login(resident)
    german.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    page = lesson_page_read(german, lesson.url)
    html = page.content.decode()
    assert page.status_code == 200 and '<html lang="de">' in html
    assert "Einen DICOM-Header lesen" in html and "Datenelemente und Value Representations" in html
    assert "Die Steigung wird in diesem Labor absichtlich falsch angewendet" in html
    # The lab block is the English lesson's exercise, with its run form, in German.
    assert "Rescale slope: stored values are not Hounsfield units" in html
    assert "Labor ausführen" in html
    # Its run is the shared lesson's (progress, completion and the lab's timing count once).
    exercise_pk = _labs(lesson)[0]
    assert f'action="/labs/exercises/{exercise_pk}/runs/"' in html
    assert f'name="lesson_id" value="{lesson.pk}"' in html
    english_html = lesson_page_read(english, lesson.url).content.decode()
    assert "Reading a DICOM header" in english_html and "Einen DICOM-Header" not in english_html


def test_the_module_quiz_accepts_the_short_answer_in_german(german_module):
    question = Question.objects.get(title="The level between patient and series")
    scorer = scorer_for("short_text")
    for answer in ("Studie", "die Studie", "Untersuchung", "study"):
        assert scorer.score(question.data, answer, max_points=1.0).points == 1.0, answer
    assert scorer.score(question.data, "Serie", max_points=1.0).points == 0


def test_every_german_lesson_file_follows_its_english_lesson():
    """Each translation file names a lesson of its module and gives words for its blocks in
    the same order (checked without a database, so a broken file fails here first)."""
    import tomllib

    from curriculum.content import CONTENT_DIR, module_read

    translated = 0
    for folder in sorted(CONTENT_DIR.glob("*/de")):
        english = {lesson.slug: lesson for lesson in module_read(folder.parent).lessons}
        outcomes = len(module_read(folder.parent).outcomes)
        assert len(tomllib.loads((folder / "module.toml").read_text())["outcomes"]) == outcomes
        for path in sorted(folder.glob("[0-9]*.toml")):
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            source = english[data["slug"]]
            assert path.name == source.path.name
            assert len(data["outcomes"]) == len(source.outcomes), path
            assert [entry["type"] for entry in data["body"]] == [
                block["type"] for block in source.body
            ], path
            translated += 1
    assert translated == 4  # module 1: every lesson
