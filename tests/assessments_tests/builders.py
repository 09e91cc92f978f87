"""Small builders for assessment tests: questions of each kind and assessments around them."""

from __future__ import annotations

from assessments.models import AssessmentKind, QuestionKind
from assessments.services import assessment_ensure, question_ensure


def choice_question(title="Which window?", correct=1, pool="", points=1.0):
    return question_ensure(
        title=title,
        kind=QuestionKind.SINGLE_CHOICE,
        prompt="<p>Which window shows the lungs?</p>",
        data={
            "options": [{"text": f"{title} option {i}", "correct": i == correct} for i in range(3)]
        },
        explanation="<p>Lung window: W 1500, L -600.</p>",
        pool=pool,
        max_points=points,
    )


def numeric_question(title="Water in HU"):
    return question_ensure(
        title=title,
        kind=QuestionKind.NUMERIC,
        prompt="<p>CT number of water?</p>",
        data={"answer": 0, "tolerance": 5, "unit": "HU"},
        explanation="<p>Water is 0 HU by definition.</p>",
    )


def essay_question(title="Explain shift"):
    return question_ensure(
        title=title,
        kind=QuestionKind.ESSAY,
        prompt="<p>Explain dataset shift.</p>",
        data={"model_answer": "Training and deployment data differ."},
        max_points=2,
    )


def quiz(questions, course=None, title="A quiz", **rules):
    return assessment_ensure(
        title=title, kind=AssessmentKind.QUIZ, course=course, questions=questions, **rules
    )


def exam(questions, course=None, title="An exam", **rules):
    return assessment_ensure(
        title=title, kind=AssessmentKind.EXAM, course=course, questions=questions, **rules
    )


def course_of(lesson):
    return lesson.get_parent().get_parent().specific
