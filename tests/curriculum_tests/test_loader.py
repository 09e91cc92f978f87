"""The content loader: idempotent, and an educator's later edit always survives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from curriculum.content import CONTENT_DIR, ContentError, course_read
from curriculum.models import CurriculumPage, LessonPage, ModulePage
from curriculum.services import curriculum_content_load, demo_course_ensure

pytestmark = pytest.mark.django_db

MODULE = "05-where-ai-fails"


@pytest.fixture
def content_dir(tmp_path) -> Path:
    """A copy of the course with one module, so that tests may change the files."""
    target = tmp_path / "content"
    target.mkdir()
    shutil.copy(CONTENT_DIR / "course.toml", target)
    shutil.copytree(CONTENT_DIR / MODULE, target / MODULE)
    return target


def test_the_shipped_course_is_complete():
    course = course_read()
    assert len(course.modules) >= 8
    for module in course.modules:
        assert len(module.lessons) >= 3, module.slug
        assert module.lab is not None, module.slug
        assert any(b["type"] == "lab" for lesson in module.lessons for b in lesson.body)
        for lesson in module.lessons:
            kinds = {block["type"] for block in lesson.body}
            assert {"text", "callout", "references"} <= kinds, lesson.path
            assert lesson.outcomes, lesson.path
        assert module.quiz is not None and len(module.quiz.questions) >= 3, module.slug
        assert len({question.kind for question in module.quiz.questions}) >= 2, module.slug


def test_the_whole_course_loads_and_reloads_unchanged():
    course, report = curriculum_content_load()
    assert not report.kept_edits and not report.updated
    assert ModulePage.objects.child_of(course).count() >= 8
    assert LessonPage.objects.descendant_of(course).live().count() >= 24
    _course, again = curriculum_content_load()
    assert not again.created and not again.updated
    explainable = ModulePage.objects.get(slug="explainable-ai")
    assert [p.required_module.slug for p in explainable.prerequisites.all()] == ["ai-fundamentals"]
    # Lessons embed the authored labs of every family, defined in the lesson files.
    block_types = {
        block.block_type
        for lesson in LessonPage.objects.descendant_of(course)
        for block in lesson.body
    }
    assert {"lab", "quiz", "reading_room", "cohort_lab"} <= block_types
    triage = LessonPage.objects.get(slug="triage-and-screening")
    kinds = [
        block.value["exercise"].kind for block in triage.body if block.block_type == "reading_room"
    ]
    assert kinds == ["triage", "screening"]


def test_run_twice_edit_a_page_run_again_the_edit_survives(content_dir):
    pages = 2 + len(list((content_dir / MODULE).glob("[0-9]*.toml")))  # course, module, lessons
    _course, first = curriculum_content_load(content_dir=content_dir)
    assert len(first.created) == pages
    _course, second = curriculum_content_load(content_dir=content_dir)
    assert len(second.unchanged) == pages and not second.created

    lesson = LessonPage.objects.get(slug="adversarial-inputs")
    lesson.summary = "An educator's better summary."
    lesson.save_revision().publish()
    source = content_dir / MODULE / "03-adversarial-inputs.toml"
    source.write_text(source.read_text().replace("Invisible perturbations", "Changed in git"))
    other = content_dir / MODULE / "02-domain-shift-and-shortcuts.toml"
    other.write_text(other.read_text().replace("Models that learned", "Networks that learned"))

    _course, third = curriculum_content_load(content_dir=content_dir)
    assert third.kept_edits == [f"{MODULE}/03-adversarial-inputs.toml"]
    assert third.updated == [f"{MODULE}/02-domain-shift-and-shortcuts.toml"]
    assert LessonPage.objects.get(slug="adversarial-inputs").summary == (
        "An educator's better summary."
    )
    assert LessonPage.objects.get(slug="domain-shift-and-shortcuts").summary.startswith(
        "Networks that learned"
    )


def test_an_unpublished_draft_also_counts_as_an_edit(content_dir):
    curriculum_content_load(content_dir=content_dir)
    course = CurriculumPage.objects.get()
    course.title = "Draft title"
    course.save_revision()
    _course, report = curriculum_content_load(content_dir=content_dir)
    assert "content/course.toml" in report.kept_edits


def test_the_demo_lesson_keeps_its_shape():
    lesson = demo_course_ensure()
    assert lesson.title == "When noise breaks a model"
    assert lesson.body[1].block_type == "lab"
    assert demo_course_ensure() == lesson


def test_a_malformed_file_is_named(content_dir):
    (content_dir / MODULE / "09-broken.toml").write_text('slug = "x"\ntitle = ')
    with pytest.raises(ContentError, match=r"09-broken\.toml"):
        course_read(content_dir)


def test_the_command_reports_kept_edits(content_dir, capsys):
    call_command("curriculum_load", content_dir=content_dir)
    lesson = LessonPage.objects.get(slug="adversarial-inputs")
    lesson.title = "Edited"
    lesson.save_revision().publish()
    call_command("curriculum_load", content_dir=content_dir)
    assert "kept an educator's edit" in capsys.readouterr().out


def test_a_quiz_with_no_correct_option_is_refused_with_its_name(content_dir):
    quiz = content_dir / MODULE / "quiz.toml"
    quiz.write_text(quiz.read_text().replace("correct = true", "correct = false"))
    with pytest.raises(ContentError, match=r"quiz\.toml: question .* correct option"):
        course_read(content_dir)


def test_a_quiz_for_a_lesson_of_another_module_is_refused(content_dir):
    quiz = content_dir / MODULE / "quiz.toml"
    quiz.write_text(
        quiz.read_text().replace('lesson = "adversarial-inputs"', 'lesson = "dicomweb"')
    )
    with pytest.raises(ContentError, match="not a lesson of this module"):
        course_read(content_dir)


def test_the_module_quiz_is_loaded_into_its_lesson_once_and_scores(content_dir):
    from assessments.models import Assessment, Question
    from assessments.scoring.registry import scorer_for

    curriculum_content_load(content_dir=content_dir)
    quiz = Assessment.objects.get(title="Where AI fails")
    assert quiz.is_quiz and quiz.max_attempts is None
    lesson = LessonPage.objects.get(slug="adversarial-inputs")
    kinds = [block.block_type for block in lesson.body]
    assert "quiz" in kinds and kinds.index("quiz") < kinds.index("references")
    assert lesson.body[kinds.index("quiz")].value["assessment"] == quiz

    # The authored answer key scores: the numeric FGSM question accepts exactly 2 HU.
    question = Question.objects.get(title="The size of an FGSM perturbation")
    scorer = scorer_for(question.kind)
    assert scorer.score(question.data, {"value": 2.0, "unit": "HU"}, max_points=1.0).points == 1.0
    assert scorer.score(question.data, {"value": 3.0, "unit": "HU"}, max_points=1.0).points == 0.0

    # Loading again changes nothing; an educator's edit of a question survives.
    question.data = {**question.data, "tolerance": 1.0}
    question.save()
    _course, again = curriculum_content_load(content_dir=content_dir)
    assert not again.created and not again.updated
    assert Assessment.objects.filter(title=quiz.title).count() == 1
    question.refresh_from_db()
    assert question.data["tolerance"] == 1.0
