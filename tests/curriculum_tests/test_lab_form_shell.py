"""A lab's form among a lesson's reader parts is rendered once and kept with holes
(curriculum.lesson_shell._lab_form_render): each reader must still see exactly the form a
fresh rendering gives them (their own token, their own trained models and nobody else's),
and an educator's edit of the exercise must show at once."""

from __future__ import annotations

import re

import pytest

from accounts.services import enrolment_create
from curriculum.lesson_shell import READER_PARTS_URL
from labs.models import LabExercise
from model_builder.models import TrainingRun, TrainingRunStatus
from tests.lesson_pages import reader_parts_split

pytestmark = pytest.mark.django_db

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def _lab_part(client, lesson) -> tuple[str, list[str]]:
    """The lesson's first lab part as the reader gets it, and the templates rendered."""
    response = client.get(lesson.url + READER_PARTS_URL)
    assert response.status_code == 200
    parts = reader_parts_split(response.content.decode())
    labs = [html for html in parts.values() if 'class="lab-panel"' in html]
    assert labs, sorted(parts)
    # The block's own markup, inside the element that puts it in place.
    inner = re.sub(r'^<div id="reader-part-\d+" class="reader-part">', "", labs[0])
    return inner.removesuffix("</div>"), [template.name for template in response.templates]


def _fresh_render(lesson, client, user) -> str:
    """The lab block rendered now for this reader, as the whole page renders it."""
    from django.middleware.csrf import get_token
    from django.test import RequestFactory

    request = RequestFactory().get(lesson.url)
    request.user = user
    block_index = next(i for i, raw in enumerate(lesson.body.raw_data) if raw["type"] == "lab")
    context = {
        **lesson.get_context(request),
        "user": user,
        "csrf_token": get_token(request),
    }
    return str(lesson.body[block_index].render(context=context))


def _trained_model(user, title: str) -> TrainingRun:
    return TrainingRun.objects.create(
        user=user,
        title=title,
        config={},
        status=TrainingRunStatus.SUCCEEDED,
        model_archive=f"trained/{title}.zip",
    )


def _without_tokens(html: str) -> str:
    return CSRF_FIELD.sub('name="csrfmiddlewaretoken" value="…"', html)


def test_each_reader_gets_the_form_a_fresh_rendering_gives_them(client, demo_lesson, people):
    resident, outsider = people["resident"], people["outsider"]
    enrolment_create(user=outsider, course=demo_lesson.get_parent().get_parent())
    mine = _trained_model(resident, "Mine")
    client.force_login(resident)
    first, templates = _lab_part(client, demo_lesson)
    assert "blocks/lab_block.html" in templates  # rendered once, for the first reader
    assert _without_tokens(first) == _without_tokens(_fresh_render(demo_lesson, client, resident))
    assert f'<option value="{mine.zoo_key}">Mine (my model)</option>' in first
    assert CSRF_FIELD.search(first) and "own-models" not in first

    # Another reader: the kept form, filled with their own (no trained model: no choice).
    client.force_login(outsider)
    second, templates = _lab_part(client, demo_lesson)
    assert "blocks/lab_block.html" not in templates
    assert mine.zoo_key not in second and 'name="model_key"' not in second
    assert _without_tokens(second) == _without_tokens(_fresh_render(demo_lesson, client, outsider))
    # A title the resident typed is text, in the kept form as everywhere.
    theirs = _trained_model(outsider, "<b onclick=x()>Theirs</b>")
    second, _ = _lab_part(client, demo_lesson)
    assert (
        f'<option value="{theirs.zoo_key}">&lt;b onclick=x()&gt;Theirs&lt;/b&gt; (my model)'
        "</option>"
    ) in second
    assert mine.zoo_key not in second and "<b onclick" not in second


def test_an_edited_or_deleted_exercise_shows_at_once(client, demo_lesson, people):
    client.force_login(people["resident"])
    _lab_part(client, demo_lesson)
    exercise = LabExercise.objects.get(pk=demo_lesson.body[1].value["exercise"].pk)
    exercise.title = "Noise, renamed by the educator"
    exercise.save()
    shown, _ = _lab_part(client, demo_lesson)
    assert "Noise, renamed by the educator" in shown
    exercise.delete()
    response = client.get(demo_lesson.url + READER_PARTS_URL)
    assert "This lab is no longer available" in response.content.decode()


def test_the_kept_exercises_follow_an_edit_of_their_questions_at_once(client, demo_lesson, people):
    """A lesson's exercises are kept with its frame for the completion rule
    (curriculum.lesson_frame.lesson_work_kept): a question added to a lab takes back the
    completion of a resident who has not answered it, on the next read."""
    from labs.models import LabRun
    from tests.factories import lesson_labs_answered

    resident = people["resident"]
    lesson_labs_answered(lesson=demo_lesson, user=resident)
    client.force_login(resident)
    completed = "You have completed this lesson."
    assert completed in client.get(demo_lesson.url + READER_PARTS_URL).content.decode()
    exercise = LabExercise.objects.get(pk=demo_lesson.body[1].value["exercise"].pk)
    exercise.questions.append(("question", "What did the saliency show?"))
    exercise.save()
    late_question = exercise.question_prompts[-1][0]
    assert late_question not in LabRun.objects.get(exercise=exercise, user=resident).answers
    assert completed not in client.get(demo_lesson.url + READER_PARTS_URL).content.decode()
