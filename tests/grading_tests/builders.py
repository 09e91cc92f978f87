"""Builders for grading tests and the role matrix: an exam with an essay question, a rubric,
finished attempts. Rows are made directly: the grading app starts where attempts end."""

from __future__ import annotations

import json
import secrets

from django.utils import timezone

from assessments.models import (
    Assessment,
    AssessmentKind,
    Attempt,
    AttemptStatus,
    Question,
    QuestionKind,
    Response,
)
from grading.models import MarkingScheme, Rubric, RubricAttachment

# Two criteria, 4 + 6 = 10 rubric points; on a 20-point question every rubric point counts 2.
RUBRIC_CRITERIA = [
    {
        "type": "criterion",
        "id": "accuracy",
        "value": {
            "title": "Accuracy",
            "description": "Is the failure explained correctly?",
            "levels": [
                {
                    "type": "item",
                    "id": f"acc{points}",
                    "value": {"points": points, "descriptor": text},
                }
                for points, text in [(0, "Wrong"), (1, "Vague"), (3, "Mostly right"), (4, "Exact")]
            ],
        },
    },
    {
        "type": "criterion",
        "id": "reasoning",
        "value": {
            "title": "Reasoning",
            "description": "",
            "levels": [
                {
                    "type": "item",
                    "id": f"rea{points}",
                    "value": {"points": points, "descriptor": text},
                }
                for points, text in [
                    (0, "None"),
                    (3, "Partial"),
                    (4, "Sound"),
                    (5, "Thorough"),
                    (6, "Excellent"),
                ]
            ],
        },
    },
]
# Level index per criterion, by the points it gives.
ACCURACY = {0: 0, 1: 1, 3: 2, 4: 3}
REASONING = {0: 0, 3: 1, 4: 2, 5: 3, 6: 4}


def levels(accuracy: int, reasoning: int) -> dict[str, int]:
    """The level choice giving these rubric points per criterion."""
    return {"accuracy": ACCURACY[accuracy], "reasoning": REASONING[reasoning]}


def essay_exam(
    *,
    course=None,
    title: str = "Noise exam",
    blind: bool = True,
    double: bool = True,
    threshold: float = 10.0,
    essay_points: float = 20.0,
    auto_points: float = 5.0,
    with_rubric: bool = True,
    kind: str = AssessmentKind.EXAM,
    released: bool = False,
):
    """An exam with one auto-scored question and one essay (rubric attached to the essay).
    `released`: the exam's marks are released already (examiner marks then show as each is
    released)."""
    assessment = Assessment.objects.create(
        title=title,
        kind=kind,
        course=course,
        blind_marking=blind,
        pass_percent=50.0,
        results_released_at=timezone.now() if released else None,
    )
    MarkingScheme.objects.create(
        assessment=assessment, double_marking=double, discrepancy_percent=threshold
    )
    choice = Question.objects.create(
        title=f"{title}: which artefact",
        kind=QuestionKind.SINGLE_CHOICE,
        prompt="<p>Which artefact is this?</p>",
        data={
            "options": [{"text": "noise", "correct": True}, {"text": "motion", "correct": False}]
        },
        max_points=auto_points,
    )
    essay = Question.objects.create(
        title=f"{title}: explain the failure",
        kind=QuestionKind.ESSAY,
        prompt="<p>Explain why the model failed on the noisy study.</p>",
        max_points=essay_points,
    )
    if with_rubric:
        rubric = Rubric.objects.create(
            title=f"{title} rubric", criteria=json.dumps(RUBRIC_CRITERIA)
        )
        RubricAttachment.objects.create(rubric=rubric, question=essay)
    return {"assessment": assessment, "choice": choice, "essay": essay}


def finished_attempt(exam: dict, user, *, text: str, auto_score: float, number: int = 1):
    """A submitted attempt: the auto-scored answer scored, the essay waiting for examiners."""
    now = timezone.now()
    attempt = Attempt.objects.create(
        assessment=exam["assessment"],
        user=user,
        number=number,
        status=AttemptStatus.SUBMITTED,
        started_at=now,
        submitted_at=now,
        auto_score=auto_score,
        max_score=exam["choice"].max_points + exam["essay"].max_points,
        candidate_code=f"C-{secrets.token_hex(3).upper()}",
    )
    Response.objects.create(
        attempt=attempt,
        question=exam["choice"],
        position=0,
        answer=[0],
        auto_score=auto_score,
        max_points=exam["choice"].max_points,
    )
    essay = Response.objects.create(
        attempt=attempt,
        question=exam["essay"],
        position=1,
        text=text,
        max_points=exam["essay"].max_points,
    )
    return attempt, essay


def auto_only_attempt(assessment, user, *, score: float, max_points: float, title: str):
    """A quiz attempt with one auto-scored question: score / max_points."""
    question = Question.objects.create(
        title=title,
        kind=QuestionKind.SINGLE_CHOICE,
        prompt="<p>?</p>",
        data={"options": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]},
        max_points=max_points,
    )
    now = timezone.now()
    attempt = Attempt.objects.create(
        assessment=assessment,
        user=user,
        number=Attempt.objects.filter(assessment=assessment, user=user).count() + 1,
        status=AttemptStatus.SUBMITTED,
        started_at=now,
        submitted_at=now,
        auto_score=score,
        max_score=max_points,
        candidate_code=f"C-{secrets.token_hex(3).upper()}",
    )
    Response.objects.create(
        attempt=attempt,
        question=question,
        position=0,
        answer=[0],
        auto_score=score,
        max_points=max_points,
    )
    return attempt


def course_with_lessons(*, title: str = "Imaging AI failures", slug: str = "failures"):
    """Course > two modules (with learning outcomes) > one lesson each, published."""
    from curriculum.models import (
        CurriculumPage,
        LessonLearningOutcome,
        LessonPage,
        ModuleLearningOutcome,
        ModulePage,
    )
    from curriculum.services import curriculum_index_ensure

    def add(parent, page):
        parent.add_child(instance=page)
        page.save_revision().publish()
        return page

    course = add(curriculum_index_ensure(), CurriculumPage(title=title, slug=slug))
    modules, lessons = [], []
    for number, (module_title, outcome) in enumerate(
        [
            ("Noise and artefacts", "Explain how noise changes a model's output"),
            ("Domain shift", "Recognise a scanner-induced domain shift"),
        ],
        start=1,
    ):
        module = ModulePage(title=module_title, slug=f"m{number}")
        module.outcomes = [ModuleLearningOutcome(text=outcome, domain="competences", level="III")]
        modules.append(add(course, module))
        lesson = LessonPage(title=f"Lesson {number}", slug=f"l{number}", estimated_minutes=10)
        lesson.outcomes = [
            LessonLearningOutcome(text=f"Know the basics of {module_title}", level="II")
        ]
        lessons.append(add(module, lesson))
    return {"course": course, "modules": modules, "lessons": lessons}
