"""The marking rules and the double-marking state machine, with numbers worked by hand.

The essay is worth 20 points; its rubric has 4 + 6 = 10 points, so each rubric point counts
2. The discrepancy threshold is 10 % of 20 points = 2 points.
"""

from __future__ import annotations

import pytest

from accounts.models import Role
from grading import selectors, services
from grading.double_marking import (
    CriterionChoice,
    MarkingRefused,
    mark_allowed,
    marks_decide,
    rubric_points,
)
from grading.models import AuditAction, AuditEntry, MarkingState, ResponseMarking
from tests.factories import UserFactory
from tests.grading_tests.builders import essay_exam, finished_attempt, levels


def test_rubric_points_are_scaled_to_the_question():
    choices = [
        CriterionChoice("Accuracy", level_points=3, criterion_max=4),
        CriterionChoice("Reasoning", level_points=4, criterion_max=6),
    ]
    # (3 + 4) / 10 rubric points * 20 question points = 14
    assert rubric_points(choices, max_points=20) == 14.0
    # The same on a 5-point question: 7 / 10 * 5 = 3.5
    assert rubric_points(choices, max_points=5) == 3.5


def test_rubric_refuses_a_level_outside_the_criterion():
    with pytest.raises(MarkingRefused, match="Accuracy"):
        rubric_points([CriterionChoice("Accuracy", 5, 4)], max_points=20)


@pytest.mark.parametrize(
    ("marks", "state", "agreed", "apart"),
    [
        ([], MarkingState.UNMARKED, None, None),
        ([14.0], MarkingState.AWAITING_SECOND, None, None),
        # 1 point apart = 5 % of 20: agree on the mean, (14 + 15) / 2 = 14.5
        ([14.0, 15.0], MarkingState.AGREED, 14.5, 5.0),
        # 2 points apart = exactly 10 %: not *more* than the threshold, so the mean, 15
        ([14.0, 16.0], MarkingState.AGREED, 15.0, 10.0),
        # 5 points apart = 25 %: a moderator decides
        ([12.0, 17.0], MarkingState.MODERATION, None, 25.0),
    ],
)
def test_double_marking_rule(marks, state, agreed, apart):
    decision = marks_decide(marks, max_points=20, double_marking=True, threshold_percent=10)
    assert (decision.state, decision.agreed_points, decision.difference_percent) == (
        state,
        agreed,
        apart,
    )


def test_single_marking_agrees_on_the_one_mark():
    decision = marks_decide([13.0], max_points=20, double_marking=False, threshold_percent=10)
    assert (decision.state, decision.agreed_points) == (MarkingState.AGREED, 13.0)


@pytest.fixture
def exam(db, people):
    exam = essay_exam()
    attempt, essay = finished_attempt(
        exam, people["resident"], text="Noise pushed the logits.", auto_score=3.0
    )
    return {**exam, "attempt": attempt, "essay_response": essay}


@pytest.fixture
def second_examiner(db):
    return UserFactory(username="erin", role=Role.EXAMINER)


def _actions(response):
    return list(
        AuditEntry.objects.filter(response=response)
        .order_by("at", "pk")
        .values_list("action", flat=True)
    )


@pytest.mark.django_db
def test_two_marks_that_agree_are_averaged_then_released(exam, people, second_examiner):
    response = exam["essay_response"]
    # Examiner 1: accuracy 3 + reasoning 4 = 7 rubric points -> 14 points
    marking = services.mark_submit(
        response=response, examiner=people["examiner"], levels=levels(3, 4), feedback="Good."
    )
    assert marking.state == MarkingState.AWAITING_SECOND
    assert selectors.response_released_score(response) is None
    # Examiner 2: 4 + 4 = 8 rubric points -> 16 points; 2 points apart = 10 %: mean 15
    marking = services.mark_submit(response=response, examiner=second_examiner, levels=levels(4, 4))
    assert marking.state == MarkingState.AGREED
    assert marking.agreed_points == 15.0
    # The exam's marks are not released: the resident sees no score at all, not even the
    # auto-scored 3 of 25 points as a provisional one.
    assert selectors.attempt_result(exam["attempt"]) == {
        "score": None,
        "max": 25.0,
        "percent": None,
        "complete": False,
        "released": False,
        "pending": 1,
        "status": "unreleased",
    }
    # Releasing the exam's marks releases the agreed mark with them.
    assert services.assessment_release(assessment=exam["assessment"], by=people["examiner"]) == 1
    assert selectors.response_released_score(response) == 15.0
    # 3 + 15 = 18 of 25 = 72 %
    assert selectors.attempt_result(exam["attempt"]) == {
        "score": 18.0,
        "max": 25.0,
        "percent": 72.0,
        "complete": True,
        "released": True,
        "pending": 0,
        "status": "final",
    }
    assert _actions(response) == [
        AuditAction.MARK_CREATE,
        AuditAction.MARK_CREATE,
        AuditAction.AGREE,
        AuditAction.RELEASE,
    ]


@pytest.mark.django_db
def test_disagreement_goes_to_a_moderator_then_release_and_regrade(exam, people, second_examiner):
    response = exam["essay_response"]
    # 1 + 3 = 4 rubric points -> 8; 4 + 5 = 9 -> 18. 10 points apart = 50 % > 10 %.
    services.mark_submit(response=response, examiner=people["examiner"], levels=levels(1, 3))
    marking = services.mark_submit(response=response, examiner=second_examiner, levels=levels(4, 5))
    assert marking.state == MarkingState.MODERATION
    assert marking.agreed_points is None
    # Neither marker may moderate; a reason is required; the admin (no mark) moderates.
    with pytest.raises(MarkingRefused, match="did not mark"):
        services.marking_moderate(
            response=response, moderator=people["examiner"], points=13, reason="Mine."
        )
    with pytest.raises(MarkingRefused, match="reason"):
        services.marking_moderate(
            response=response, moderator=people["admin"], points=13, reason=" "
        )
    with pytest.raises(MarkingRefused, match="between 0 and 20"):
        services.marking_moderate(
            response=response, moderator=people["admin"], points=21, reason="x"
        )
    marking = services.marking_moderate(
        response=response,
        moderator=people["admin"],
        points=13,
        reason="The mechanism is right; the dose argument is missing.",
    )
    assert (marking.state, marking.agreed_points) == (MarkingState.AGREED, 13.0)
    # Released only on release.
    with pytest.raises(MarkingRefused):
        services.regrade_request_create(response=response, resident=people["resident"], reason="x")
    services.assessment_release(assessment=exam["assessment"], by=people["admin"])
    assert selectors.response_released_score(response) == 13.0

    # Regrade: only the author, with a reason.
    with pytest.raises(MarkingRefused, match="author"):
        services.regrade_request_create(response=response, resident=people["outsider"], reason="x")
    with pytest.raises(MarkingRefused, match="why"):
        services.regrade_request_create(response=response, resident=people["resident"], reason="")
    request = services.regrade_request_create(
        response=response, resident=people["resident"], reason="I discussed dose on page 2."
    )
    assert request.points_before == 13.0
    marking.refresh_from_db()
    assert marking.state == MarkingState.REGRADE_REQUESTED
    # While the regrade is open the resident keeps seeing the released 13.
    assert selectors.response_released_score(response) == 13.0
    request = services.regrade_resolve(
        response=response,
        examiner=people["examiner"],
        points=15,
        reason="Page 2 does discuss dose: +2.",
    )
    assert (request.points_before, request.points_after) == (13.0, 15.0)
    marking = ResponseMarking.objects.get(response=response)
    assert (marking.state, marking.released_points) == (MarkingState.RELEASED, 15.0)
    # 3 auto + 15 = 18 of 25
    assert selectors.attempt_result(exam["attempt"])["score"] == 18.0
    assert _actions(response) == [
        AuditAction.MARK_CREATE,
        AuditAction.MARK_CREATE,
        AuditAction.DISCREPANCY,
        AuditAction.MODERATE,
        AuditAction.RELEASE,
        AuditAction.REGRADE_REQUEST,
        AuditAction.REGRADE,
        AuditAction.RELEASE,
    ]
    moderation = AuditEntry.objects.get(response=response, action=AuditAction.MODERATE)
    assert moderation.actor == people["admin"]
    assert moderation.before["state"] == MarkingState.MODERATION
    assert moderation.after["agreed_points"] == 13.0
    assert moderation.reason.startswith("The mechanism")
    regrade = AuditEntry.objects.get(response=response, action=AuditAction.REGRADE)
    assert (regrade.before["released_points"], regrade.after["agreed_points"]) == (13.0, 15.0)


@pytest.mark.django_db
def test_a_marker_may_change_their_mark_until_the_second_is_in(exam, people, second_examiner):
    response = exam["essay_response"]
    services.mark_submit(response=response, examiner=people["examiner"], levels=levels(0, 0))
    services.mark_submit(response=response, examiner=people["examiner"], levels=levels(3, 4))
    marking = services.mark_submit(response=response, examiner=second_examiner, levels=levels(3, 5))
    # 14 and 16 (the changed first mark counts): exactly 10 % apart, mean 15
    assert marking.agreed_points == 15.0
    change = AuditEntry.objects.get(response=response, action=AuditAction.MARK_CHANGE)
    assert (change.before["points"], change.after["points"]) == (0.0, 14.0)
    with pytest.raises(MarkingRefused, match="cannot be marked now"):
        services.mark_submit(response=response, examiner=people["examiner"], levels=levels(4, 6))
    third = UserFactory(username="eve", role=Role.EXAMINER)
    with pytest.raises(MarkingRefused):
        services.mark_submit(response=response, examiner=third, levels=levels(4, 6))


@pytest.mark.django_db
def test_single_marking_and_release_of_a_whole_assessment(db, people):
    exam = essay_exam(double=False, with_rubric=False)
    attempts = [
        finished_attempt(exam, people[who], text="Answer", auto_score=5.0)
        for who in ("resident", "outsider")
    ]
    for (_attempt, essay), points in zip(attempts, (10.0, 12.5), strict=True):
        marking = services.mark_submit(response=essay, examiner=people["examiner"], points=points)
        assert (marking.state, marking.agreed_points) == (MarkingState.AGREED, points)
    with pytest.raises(MarkingRefused, match="between 0 and 20"):
        services.mark_submit(response=attempts[0][1], examiner=people["examiner"], points=20.5)
    assert services.assessment_release(assessment=exam["assessment"], by=people["examiner"]) == 2
    # 5 + 10 = 15 of 25 = 60 %; 5 + 12.5 = 17.5 of 25 = 70 %
    assert [selectors.attempt_result(a)["percent"] for a, _ in attempts] == [60.0, 70.0]


@pytest.mark.django_db
def test_auto_scored_answers_are_not_marked(exam, people):
    choice = exam["attempt"].responses.get(position=0)
    with pytest.raises(MarkingRefused, match="automatically"):
        services.mark_submit(response=choice, examiner=people["examiner"], points=1)


@pytest.mark.parametrize(
    ("state", "own", "given", "double", "source", "allowed"),
    [
        (MarkingState.UNMARKED, False, 0, True, "", True),
        (MarkingState.AWAITING_SECOND, False, 1, True, "", True),  # the second marker
        (MarkingState.AWAITING_SECOND, True, 1, True, "", True),  # the first changes theirs
        (MarkingState.AGREED, True, 2, True, "marks", False),  # both in: decided
        (MarkingState.AGREED, True, 1, False, "marks", True),  # single: until release
        (MarkingState.AGREED, True, 1, False, "regrade", False),  # not over a regrade
        (MarkingState.MODERATION, False, 2, True, "", False),
        (MarkingState.RELEASED, True, 1, False, "marks", False),
    ],
)
def test_who_may_mark_when(state, own, given, double, source, allowed):
    assert (
        mark_allowed(
            state, has_own_mark=own, marks_given=given, double_marking=double, agreed_source=source
        )
        is allowed
    )
