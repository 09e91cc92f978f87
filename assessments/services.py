"""Writes for assessments: start an attempt, save an answer, submit, and time out.

The attempt is server state. Its paper (which questions, in which order, with which option
order) is drawn once at start; its deadline is computed once at start; every answer is
checked against that deadline on the server, whatever the page's countdown shows. Every
write to an attempt locks its row first, so a double-clicked submit or an answer racing
the deadline cannot leave it half-finished.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from assessments.models import (
    IMAGE_KINDS,
    Assessment,
    Attempt,
    AttemptStatus,
    CorrectionCause,
    MarkCorrection,
    Question,
    QuestionKind,
    Response,
)
from assessments.qti.reader import ItemProblem, PackageRefused, package_read
from assessments.scoring.base import AnswerError, FormValues, Score
from assessments.scoring.registry import scorer_for

CHOICE_KINDS = (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)
CANDIDATE_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


class AttemptRefused(Exception):
    """Starting or changing an attempt is not allowed now; the message says why."""


@dataclass(frozen=True)
class AnswerSaved:
    response: Response
    score: Score | None


# --- Starting ---------------------------------------------------------------------------


def assessment_availability_error(
    *, assessment: Assessment, user, now: dt.datetime, used: int | None = None
) -> str:
    """Why this user cannot start a new attempt now ('' when they can). `used`: how many
    attempts the user has made at it, when the caller knows."""
    if not assessment.is_published:
        return _("This assessment is not published.")
    if assessment.opens_at and now < assessment.opens_at:
        local = timezone.localtime(assessment.opens_at)
        return _("This assessment opens on %(when)s.") % {"when": f"{local:%d %b %Y %H:%M}"}
    if assessment.closes_at and now >= assessment.closes_at:
        return _("This assessment closed; no new attempts.")
    if used is None:
        used = assessment.attempts.filter(user=user).count()
    if assessment.max_attempts is not None and used >= assessment.max_attempts:
        return _("You have used all %(count)d attempts.") % {"count": assessment.max_attempts}
    return ""


def _candidate_code() -> str:
    return "C-" + "".join(secrets.choice(CANDIDATE_CODE_ALPHABET) for _ in range(8))


def _paper_draw(*, assessment: Assessment, rng: random.Random) -> list[Question]:
    """Fixed questions in item order, plus random draws from pools (no question twice)."""
    chosen: list[Question] = []
    seen: set[int] = set()
    for item in assessment.items.select_related("question").order_by("sort_order", "pk"):
        if item.question_id:
            if item.question_id not in seen:
                chosen.append(item.question)
                seen.add(item.question_id)
            continue
        candidates = list(Question.objects.filter(pool=item.pool).exclude(pk__in=seen))
        candidates.sort(key=lambda question: question.pk)
        drawn = rng.sample(candidates, min(item.draw_count, len(candidates)))
        chosen.extend(drawn)
        seen.update(question.pk for question in drawn)
    if assessment.shuffle_questions:
        rng.shuffle(chosen)
    return chosen


def attempt_deadline(*, assessment: Assessment, started_at: dt.datetime) -> dt.datetime | None:
    """The earlier of start + time limit and the assessment's close; None when neither."""
    candidates = []
    if assessment.time_limit_minutes:
        candidates.append(started_at + dt.timedelta(minutes=assessment.time_limit_minutes))
    if assessment.closes_at:
        candidates.append(assessment.closes_at)
    return min(candidates) if candidates else None


def attempt_start(
    *, assessment: Assessment, user, lesson=None, now: dt.datetime | None = None
) -> Attempt:
    """The user's attempt in progress, or a new one; raises AttemptRefused with the reason.

    Callers check the rule "assessments.take" first. Resuming comes before
    the availability rules: an attempt in progress stays open until its own deadline.
    """
    now = now or timezone.now()
    current = attempt_in_progress(assessment=assessment, user=user, now=now)
    if current is not None:
        return current
    refusal = assessment_availability_error(assessment=assessment, user=user, now=now)
    if refusal:
        raise AttemptRefused(refusal)
    # Unpredictable draws: a candidate must not be able to infer the paper of another.
    rng = random.SystemRandom()
    questions = _paper_draw(assessment=assessment, rng=rng)
    if not questions:
        raise AttemptRefused(_("This assessment has no questions yet."))
    option_orders = {}
    for question in questions:
        if question.kind in CHOICE_KINDS:
            order = list(range(len(question.data.get("options", []))))
            if assessment.shuffle_options:
                rng.shuffle(order)
            option_orders[str(question.pk)] = order
    number = assessment.attempts.filter(user=user).count() + 1
    try:
        with transaction.atomic():
            attempt = Attempt.objects.create(
                assessment=assessment,
                user=user,
                number=number,
                started_at=now,
                deadline_at=attempt_deadline(assessment=assessment, started_at=now),
                candidate_code=_candidate_code(),
                option_orders=option_orders,
                lesson=lesson,
                max_score=sum(question.max_points for question in questions),
            )
            Response.objects.bulk_create(
                Response(
                    attempt=attempt,
                    question=question,
                    position=position,
                    max_points=question.max_points,
                )
                for position, question in enumerate(questions)
            )
    except IntegrityError:
        # A second start raced this one (double click): the other created number N.
        current = attempt_in_progress(assessment=assessment, user=user, now=now)
        if current is None:
            raise AttemptRefused(_("Please try again.")) from None
        return current
    return attempt


def attempt_in_progress(
    *, assessment: Assessment, user, now: dt.datetime, attempts: list[Attempt] | None = None
) -> Attempt | None:
    """The user's open attempt, after timing out any that ran past their deadline.
    `attempts`: the user's attempts at this assessment when the caller has read them."""
    if attempts is None:
        attempts = assessment.attempts.filter(user=user, status=AttemptStatus.IN_PROGRESS)
    for attempt in attempts:
        if attempt.status != AttemptStatus.IN_PROGRESS:
            continue
        attempt = attempt_expire_if_overdue(attempt=attempt, now=now)
        if attempt.status == AttemptStatus.IN_PROGRESS:
            return attempt
    return None


# --- Answering --------------------------------------------------------------------------


def response_score(*, response: Response) -> Score | None:
    """Score a saved answer with its kind's scorer; None when there is nothing to score."""
    from assessments.ground_truth import GroundTruthMissing, ground_truth_load

    question = response.question
    if response.answer is None:
        return None
    scorer = scorer_for(question.kind)
    truth = None
    if scorer.needs_ground_truth:
        try:
            truth = ground_truth_load(question.data)
        except GroundTruthMissing as missing:
            return Score(
                None, _("This answer could not be scored now (%(why)s).") % {"why": missing}
            )
    return scorer.score(question.data, response.answer, max_points=response.max_points, truth=truth)


def _locked(attempt: Attempt) -> Attempt:
    return Attempt.objects.select_for_update().select_related("assessment").get(pk=attempt.pk)


def _write_refusal(attempt: Attempt, now: dt.datetime) -> str:
    if attempt.status == AttemptStatus.TIMED_OUT:
        return _("Time is up: the answers saved before the deadline were submitted.")
    if attempt.is_finished:
        return _("This attempt was submitted; its answers can no longer change.")
    return ""


def response_save(
    *, attempt: Attempt, position: int, form: FormValues, now: dt.datetime | None = None
) -> AnswerSaved:
    """Check, store and score one answer of an attempt in progress.

    Raises AttemptRefused when the attempt is finished or past its deadline (it is then
    submitted as timed out), and AnswerError when the answer is malformed; in both cases
    the answer saved before stays as it was.
    """
    now = now or timezone.now()
    # An overdue attempt is closed in its own transaction, which commits before the
    # answer is refused (raising inside it would roll the closing back).
    with transaction.atomic():
        attempt = _locked(attempt)
        if attempt.status == AttemptStatus.IN_PROGRESS and _is_overdue(attempt, now):
            _finish(attempt=attempt, now=now, status=AttemptStatus.TIMED_OUT)
    with transaction.atomic():
        attempt = _locked(attempt)
        refusal = _write_refusal(attempt, now)
        if refusal:
            raise AttemptRefused(refusal)
        response = attempt.responses.select_related("question").filter(position=position).first()
        if response is None:
            raise AnswerError(_("This question is not part of your attempt."))
        question = response.question
        answer = scorer_for(question.kind).answer_from_form(question.data, form)
        lab_run_ids = answer.get("lab_run_ids") if isinstance(answer, dict) else None
        if lab_run_ids is not None:
            from labs.models import LabRun

            runs = list(LabRun.objects.filter(pk__in=lab_run_ids, user=attempt.user))
            if len(runs) != len(lab_run_ids):
                raise AnswerError(_("Attach only your own lab runs."))
            response.lab_runs.set(runs)
        response.answer = answer
        response.text = _text_of(answer)
        response.saved_at = now
        score = response_score(response=response)
        response.auto_score = score.points if score else None
        response.feedback = score.feedback if score else ""
        response.save(update_fields=["answer", "text", "saved_at", "auto_score", "feedback"])
    return AnswerSaved(response=response, score=score)


def _text_of(answer) -> str:
    if isinstance(answer, str):
        return answer
    if isinstance(answer, dict) and isinstance(answer.get("text"), str):
        return answer["text"]
    return ""


# --- Finishing --------------------------------------------------------------------------


def _effective_deadline(attempt: Attempt) -> dt.datetime | None:
    """The attempt's own deadline, or the assessment's close if an educator moved it
    earlier after the attempt started."""
    candidates = [t for t in (attempt.deadline_at, attempt.assessment.closes_at) if t]
    return min(candidates) if candidates else None


def _is_overdue(attempt: Attempt, now: dt.datetime) -> bool:
    deadline = _effective_deadline(attempt)
    return deadline is not None and now >= deadline


def _finish(*, attempt: Attempt, now: dt.datetime, status: str) -> None:
    """Score every saved answer again and close the attempt. Call holding the row lock."""
    for response in attempt.responses.select_related("question"):
        score = response_score(response=response)
        points = score.points if score else None
        if score is not None and points is None and not response.question.is_examiner_marked:
            points = 0.0  # unscorable at the end (its mask is gone): no credit, but said so
        if response.answer is None and not response.question.is_examiner_marked:
            points = 0.0
        response.auto_score = points
        response.feedback = score.feedback if score else _("Not answered.")
        response.save(update_fields=["auto_score", "feedback"])
    totals = attempt.responses.aggregate(score=Sum("auto_score"), maximum=Sum("max_points"))
    attempt.auto_score = round(totals["score"] or 0.0, 4)
    attempt.max_score = totals["maximum"] or 0.0
    attempt.status = status
    # A timed-out attempt is submitted as of its deadline: nothing later counted.
    deadline = _effective_deadline(attempt)
    attempt.submitted_at = min(now, deadline) if deadline else now
    attempt.save(update_fields=["auto_score", "max_score", "status", "submitted_at"])


def attempt_submit(*, attempt: Attempt, now: dt.datetime | None = None) -> Attempt:
    """Submit the attempt; submitting a finished attempt again changes nothing.

    Past its deadline the attempt is closed as timed out instead (the answers saved in time
    are what count).
    """
    now = now or timezone.now()
    with transaction.atomic():
        attempt = _locked(attempt)
        if attempt.is_finished:
            return attempt
        status = AttemptStatus.TIMED_OUT if _is_overdue(attempt, now) else AttemptStatus.SUBMITTED
        _finish(attempt=attempt, now=now, status=status)
    return attempt


def attempt_expire_if_overdue(*, attempt: Attempt, now: dt.datetime | None = None) -> Attempt:
    """The lazy deadline check every page view runs: an overdue attempt is closed."""
    now = now or timezone.now()
    if attempt.status != AttemptStatus.IN_PROGRESS or not _is_overdue(attempt, now):
        return attempt
    with transaction.atomic():
        attempt = _locked(attempt)
        if attempt.status == AttemptStatus.IN_PROGRESS:
            _finish(attempt=attempt, now=now, status=AttemptStatus.TIMED_OUT)
    return attempt


def attempts_overdue_submit(*, now: dt.datetime | None = None) -> int:
    """The sweeper: close every attempt past its deadline; returns how many it closed."""
    now = now or timezone.now()
    closed = 0
    overdue = Attempt.objects.filter(
        Q(deadline_at__lte=now) | Q(assessment__closes_at__lte=now),
        status=AttemptStatus.IN_PROGRESS,
    ).select_related("assessment")
    for attempt in overdue:
        if attempt_expire_if_overdue(attempt=attempt, now=now).status == AttemptStatus.TIMED_OUT:
            closed += 1
    return closed


def assessment_results_release(*, assessment: Assessment, now: dt.datetime | None = None):
    """Let residents see an exam's key and automatic marks (examiner marks are released
    separately, per answer, in the grading app). Releasing twice keeps the first moment."""
    if assessment.results_released_at is None:
        assessment.results_released_at = now or timezone.now()
        assessment.save(update_fields=["results_released_at"])
    return assessment


# --- Repair: marks stored against another question on the same series ----------------------


@dataclass
class SharedMarkRepair:
    """What responses_shared_marks_repair found and did."""

    cleared: list[Response]  # answers that were another question's mark
    undecided: list[list[Response]]  # one mark on several questions, owner unknown
    rescored: list[Attempt]  # finished attempts whose totals were computed again
    released: list[Attempt]  # of those, attempts whose results residents can already see
    notices: list[MarkCorrection]  # what each finished attempt's candidate is told


def _mark_owner(responses: list[Response]) -> Response | None:
    """The one question a mark shared by `responses` was placed for, when the mark says so.

    Until the viewer kept each question's marks apart, a mark placed in one question's
    viewer was posted by every viewer of the same series. Each viewer opens on its
    question's `initial_slice`: a mark on exactly one question's opening image belongs to
    it; a mark elsewhere was scrolled to, which only a choose-the-slice question asks for.
    """
    mark_slice = responses[0].answer.get("slice")
    opened_there = [r for r in responses if r.question.data.get("initial_slice") == mark_slice]
    if len(opened_there) == 1:
        return opened_there[0]
    if not opened_there:
        choose_slice = [r for r in responses if r.question.kind == QuestionKind.IMAGE_SLICE]
        if len(choose_slice) == 1:
            return choose_slice[0]
    return None


def _mark_identity(response: Response) -> tuple | None:
    answer = response.answer
    if not isinstance(answer, dict) or not answer.get("sop_uid"):
        return None
    points = tuple(tuple(point) for point in answer.get("image") or ())
    return (response.question.data.get("series_uid"), answer["sop_uid"], points)


def responses_shared_marks_repair(*, dry_run: bool = False) -> SharedMarkRepair:
    """Find image answers that are one mark stored against several questions of an attempt,
    clear it from the questions it was not placed for, and score finished attempts again.

    A cleared answer counts as not answered: the resident's own mark for that question was
    overwritten and cannot be recovered. Marks whose question cannot be told are left as
    they are and listed for an examiner. Running it again changes nothing.
    """
    report = SharedMarkRepair(cleared=[], undecided=[], rescored=[], released=[], notices=[])
    image_responses = (
        Response.objects.filter(question__kind__in=IMAGE_KINDS)
        .exclude(answer__isnull=True)
        .select_related("question", "attempt__assessment", "attempt__user")
        .order_by("attempt_id", "position")
    )
    by_mark: dict[tuple, list[Response]] = {}
    for response in image_responses:
        identity = _mark_identity(response)
        if identity is not None:
            by_mark.setdefault((response.attempt_id, *identity), []).append(response)
    touched: dict[int, Attempt] = {}
    with transaction.atomic():
        for shared in by_mark.values():
            if len(shared) < 2:
                continue
            owner = _mark_owner(shared)
            if owner is None:
                report.undecided.append(shared)
                continue
            for response in shared:
                if response.pk == owner.pk:
                    continue
                report.cleared.append(response)
                touched[response.attempt_id] = response.attempt
                if dry_run:
                    continue
                points_before = response.auto_score
                response.answer = None
                response.text = ""
                response.auto_score = 0.0 if response.attempt.is_finished else None
                response.feedback = _(
                    "Not answered: the mark stored here was placed for another question on"
                    " the same images (a fault now fixed), so it was removed."
                )
                response.save(update_fields=["answer", "text", "auto_score", "feedback"])
                if response.attempt.is_finished:
                    # The candidate is told on "My grades" and the attempt's feedback page
                    # once the marks are released (before that no mark is shown at all).
                    report.notices.append(
                        MarkCorrection.objects.create(
                            response=response,
                            points_before=points_before,
                            points_after=response.auto_score,
                            cause=CorrectionCause.SHARED_MARK,
                        )
                    )
        for attempt in touched.values():
            if not attempt.is_finished:
                continue
            report.rescored.append(attempt)
            if attempt.assessment.results_released_at is not None:
                report.released.append(attempt)
            if dry_run:
                continue
            totals = attempt.responses.aggregate(score=Sum("auto_score"))
            attempt.auto_score = round(totals["score"] or 0.0, 4)
            attempt.save(update_fields=["auto_score"])
    return report


# --- Authoring from code (demo content, content loaders) ------------------------------------


def question_ensure(
    *,
    title: str,
    kind: str,
    prompt: str,
    data: dict,
    explanation: str = "",
    module=None,
    outcome: str = "",
    difficulty: str = "medium",
    max_points: float = 1.0,
    pool: str = "",
) -> Question:
    """Create or update the question with this title (and module); data checked by its
    scorer, so a loader fails loudly on a bad question instead of storing it."""
    from django.core.exceptions import ValidationError

    question = Question.objects.filter(title=title, module=module).first() or Question(
        title=title, module=module
    )
    question.kind = kind
    question.prompt = prompt
    question.data = data
    question.explanation = explanation
    question.outcome = outcome
    question.difficulty = difficulty
    question.max_points = max_points
    question.pool = pool
    try:
        question.full_clean()
    except ValidationError as error:
        raise ValueError(f"Question {title!r}: {error.message_dict}") from error
    question.save()
    return question


def assessment_ensure(
    *, title: str, kind: str, course=None, questions=(), pool_draws=(), **rules
) -> Assessment:
    """Create or update the assessment with this title; its items become the questions
    given (in order) followed by the pool draws [(pool, count)]. Items are only rewritten
    while nobody has attempted it, so a running exam's paper never changes under anyone."""
    from assessments.models import AssessmentItem

    assessment = Assessment.objects.filter(title=title).first() or Assessment(title=title)
    assessment.kind = kind
    assessment.course = course
    for name, value in rules.items():
        setattr(assessment, name, value)
    assessment.save()
    if not assessment.attempts.exists():
        assessment.items.all().delete()
        order = 0
        for question in questions:
            AssessmentItem.objects.create(
                assessment=assessment, question=question, sort_order=order
            )
            order += 1
        for pool, count in pool_draws:
            AssessmentItem.objects.create(
                assessment=assessment, pool=pool, draw_count=count, sort_order=order
            )
            order += 1
    return assessment


# --- Question bank interchange (IMS QTI 2.1, assessments/qti) -------------------------------


@dataclass
class QuestionBankImport:
    """What an import did: the questions created, or (and then nothing was created) the
    package's refusal or each item's problem."""

    created: list[Question]
    problems: list[ItemProblem]
    refused: str = ""

    @property
    def imported(self) -> bool:
        return bool(self.created)


def question_bank_import(*, package: bytes) -> QuestionBankImport:
    """Create a question for every item of the QTI package, all or none.

    Every item is read and checked (its scorer's rules, as on the authoring form) before
    anything is written; one bad item leaves the bank as it was and is reported with the
    rest. The prompt and explanation HTML are allow-listed by assessments.qti.rich_text."""
    try:
        contents = package_read(package)
    except PackageRefused as refusal:
        return QuestionBankImport(created=[], problems=[], refused=str(refusal))
    problems = list(contents.problems)
    questions = []
    for draft in contents.drafts:
        question = Question(
            title=draft.title or draft.identifier[:200],
            kind=draft.kind,
            prompt=draft.prompt,
            data=draft.data,
            explanation=draft.explanation,
            max_points=draft.max_points,
            difficulty=draft.difficulty,
            outcome=draft.outcome,
            pool=draft.pool,
        )
        try:
            question.full_clean()
        except ValidationError as error:
            messages = "; ".join(
                f"{name}: {' '.join(texts)}" for name, texts in error.message_dict.items()
            )
            problems.append(ItemProblem(draft.source, draft.title, messages))
            continue
        questions.append(question)
    if problems:
        return QuestionBankImport(created=[], problems=problems)
    with transaction.atomic():
        for question in questions:
            question.save()
    return QuestionBankImport(created=questions, problems=[])
