"""Demo content for grading: a rubric on the demo exam's essay, its marking rules, gradebook
categories, and one submitted exam by a demo candidate, so the demo examiner's queue has
work in it from the start.

A step of `manage.py demo_setup`, run after `assessments.demo` (never by test fixtures):
GradingConfig.ready registers it with curriculum.demo. The candidate is a separate demo
account that cannot log in, so the demo resident keeps every attempt of the exam for
themselves.
"""

from __future__ import annotations

import json
import secrets
import uuid

from django.db import transaction

from accounts.models import Role, User
from accounts.services import enrolment_create, user_create
from assessments.models import Assessment, AssessmentKind, QuestionKind
from grading.models import GradebookCategory, MarkingScheme, Rubric, RubricAttachment

CANDIDATE_USERNAME = "demo-candidate"
RUBRIC_TITLE = "Demo rubric: explaining a failure"
CANDIDATE_ESSAY = (
    "The test set came from the same scanners and protocols as the training data, so it"
    " could not show dataset shift. Another hospital's scanner changes noise texture and"
    " reconstruction kernel, and its patients differ; the model learnt shortcuts that do not"
    " transfer, so its accuracy drops."
)


def _level(points: float, descriptor: str) -> dict:
    # ListBlock's raw form: each item carries an id (without one Wagtail reads the old form).
    return {
        "type": "item",
        "id": str(uuid.uuid4()),
        "value": {"points": points, "descriptor": descriptor},
    }


RUBRIC_CRITERIA = [
    {
        "type": "criterion",
        "value": {
            "title": "Mechanism",
            "description": "Names why performance drops (dataset shift, shortcuts).",
            "levels": [
                _level(0, "No mechanism"),
                _level(1, "A mechanism, vaguely"),
                _level(2, "The mechanism, precisely"),
            ],
        },
    },
    {
        "type": "criterion",
        "value": {
            "title": "Example",
            "description": "Gives a concrete difference between hospitals.",
            "levels": [_level(0, "No example"), _level(1, "A concrete example")],
        },
    },
]


@transaction.atomic
def grading_demo_ensure(*, course, exam: Assessment, quiz: Assessment | None = None) -> str:
    """Idempotent; returns a line for the demo set-up to print."""
    course = course.specific
    essays = [
        item.question
        for item in exam.items.select_related("question")
        if item.question is not None and item.question.kind == QuestionKind.ESSAY
    ]
    if not essays:
        return "Grading demo skipped: the demo exam has no essay question."
    essay = essays[0]
    rubric = Rubric.objects.filter(title=RUBRIC_TITLE).first()
    if rubric is None:
        rubric = Rubric.objects.create(title=RUBRIC_TITLE, criteria=json.dumps(RUBRIC_CRITERIA))
    RubricAttachment.objects.get_or_create(rubric=rubric, question=essay)
    MarkingScheme.objects.get_or_create(
        assessment=exam, defaults={"double_marking": True, "discrepancy_percent": 20.0}
    )
    if not GradebookCategory.objects.filter(course=course).exists():
        exams = GradebookCategory.objects.create(course=course, name="Exams", weight=70)
        exams.assessments.set([exam])
        GradebookCategory.objects.create(course=course, name="Quizzes", weight=30)
    _quiz_category_complete(course=course, demo_quiz=quiz)
    return _candidate_attempt_ensure(course=course, exam=exam, essay=essay)


def _quiz_category_complete(*, course, demo_quiz: Assessment | None) -> None:
    """The demo's "Quizzes" category counts every quiz of the course — the module quizzes a
    resident takes in the lessons as well as the demo quiz. Adds only quizzes that no category
    of the course counts yet, so running the set-up again never moves an educator's choice."""
    quizzes = GradebookCategory.objects.filter(course=course, name="Quizzes").first()
    if quizzes is None:
        return
    counted = set(
        GradebookCategory.objects.filter(course=course).values_list("assessments", flat=True)
    )
    course_quizzes = Assessment.objects.filter(course=course, kind=AssessmentKind.QUIZ)
    wanted = [quiz for quiz in course_quizzes if quiz.pk not in counted]
    if demo_quiz is not None and demo_quiz.pk not in counted:
        wanted.append(demo_quiz)
    quizzes.assessments.add(*wanted)


def _candidate_attempt_ensure(*, course, exam: Assessment, essay) -> str:
    from assessments.services import AttemptRefused, attempt_start, attempt_submit, response_save

    candidate = User.objects.filter(username=CANDIDATE_USERNAME).first()
    if candidate is None:
        candidate = user_create(
            username=CANDIDATE_USERNAME,
            # Never used: the account cannot log in (unusable password below).
            password=secrets.token_urlsafe(16),
            role=Role.RESIDENT,
            first_name="Demo",
            last_name="Candidate",
            is_demo=True,
        )
        candidate.set_unusable_password()
        candidate.save(update_fields=["password"])
    enrolment_create(user=candidate, course=course)
    if exam.attempts.filter(user=candidate).exists():
        return "Grading demo: the demo candidate's exam is in the grading queue."
    try:
        attempt = attempt_start(assessment=exam, user=candidate)
    except AttemptRefused as refusal:
        return f"Grading demo skipped: {refusal}"
    position = attempt.responses.get(question=essay).position
    response_save(attempt=attempt, position=position, form={"text": [CANDIDATE_ESSAY]})
    attempt_submit(attempt=attempt)
    return "Grading demo: a submitted exam waits in the examiner's grading queue."
