"""Writes of the LTI tool: accept a launch, sign the person in, place content (Deep Linking),
send released scores (AGS) and take the roster (NRPS). docs/lti.md tells the whole flow.

Accounts are linked by (issuer, subject) through django-lti's LtiUser, never by email: a
platform's email claim is informational and may be reused or absent. Scores are queued in
the transaction that releases them and sent by the run engine (lti.models.ScoreOutbox), so
a platform that is down loses nothing, and never before release (assessments.selectors.
attempt_marks is the one reading of what a resident may see).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.contrib.auth import login
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from lti_tool.lti_core.constants import ContextRole, InstitutionRole
from lti_tool.lti_core.utils import normalize_role
from lti_tool.models import Key, LtiContext, LtiLaunch, LtiUser
from lti_tool.services.nrps import fetch_member_data
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector
from wagtail.models import Page

from accounts.models import Role, User
from accounts.services import enrolment_create, user_role_set
from assessments.models import Assessment, Attempt
from assessments.selectors import attempt_marks
from curriculum.models import CurriculumPage, LessonPage, ModulePage
from lti.models import CourseLink, GradeLink, ScoreOutbox, UsedNonce
from lti.selectors import registration_origins
from runs.services import RunDeferred, RunFailed, retry_backoff_seconds, run_enqueue

logger = logging.getLogger(__name__)

TARGET_CLAIM = "artefact_target"  # the custom parameter naming what a link opens
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SESSION_FRAME_ORIGINS = "lti_frame_origins"
SESSION_DEEP_LINK = "lti_deep_link_launch"

EDUCATOR_ROLES = {
    ContextRole.INSTRUCTOR.value,
    ContextRole.CONTENT_DEVELOPER.value,
    ContextRole.ADMINISTRATOR.value,
    InstitutionRole.INSTRUCTOR.value,
    InstitutionRole.FACULTY.value,
}


class LaunchRefused(Exception):
    """A launch Artefact will not accept; the message is shown to the person (4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --- Roles and accounts -----------------------------------------------------------------


def role_from_claims(roles: list[str]) -> Role:
    """Instructor -> educator, Learner (or anything else) -> resident; a role listed in
    settings.LTI_EXAMINER_ROLES makes an examiner, ahead of both."""
    full = {normalize_role(role) for role in roles or ()}
    if full & set(settings.LTI_EXAMINER_ROLES):
        return Role.EXAMINER
    if full & EDUCATOR_ROLES:
        return Role.EDUCATOR
    return Role.RESIDENT


def lti_user_account(*, lti_user: LtiUser, role: Role) -> User:
    """The Artefact account of a platform user, made on first sight.

    Linked by (issuer, subject): the same person seen through another registration of the
    same issuer keeps one account. A new account has no usable password (it signs in only
    through its LMS) and gets the mapped role; an existing account follows the platform's
    role on every launch, except a programme admin, whom no LMS demotes.
    """
    if lti_user.auth_user_id is None:
        same_person = (
            LtiUser.objects.filter(
                registration__issuer=lti_user.registration.issuer,
                sub=lti_user.sub,
                auth_user__isnull=False,
            )
            .select_related("auth_user")
            .first()
        )
        if same_person is not None:
            user = same_person.auth_user
        else:
            user = User(
                username=f"lti-{uuid.uuid4().hex[:20]}",
                first_name=(lti_user.given_name or "")[:150],
                last_name=(lti_user.family_name or "")[:150],
            )
            user.set_unusable_password()
            user.save()
            user = user_role_set(user=user, role=role)
        lti_user.auth_user = user
        lti_user.save(update_fields=["auth_user"])
    user = lti_user.auth_user
    if user.role != role and user.role != Role.ADMIN:
        user = user_role_set(user=user, role=role)
    return user


def launch_nonce_spend(*, lti_launch: LtiLaunch) -> None:
    """Accept a validated id_token once: its nonce is written down; a second use is a replay.

    pylti1p3 checks that the nonce was issued by our login step, not that it is fresh."""
    nonce = lti_launch.get_claim("nonce") or ""
    try:
        with transaction.atomic():
            UsedNonce.objects.create(nonce=nonce[:255], issuer=lti_launch.get_claim("iss")[:255])
    except IntegrityError:
        raise LaunchRefused(
            _("This launch was already used. Open the activity again from your LMS."), 400
        ) from None


def launch_sign_in(*, request, lti_launch: LtiLaunch) -> User:
    """Sign in the launching person (made on first launch), and let the platform frame us."""
    role = role_from_claims(lti_launch.roles_claim or [])
    user = lti_user_account(lti_user=lti_launch.user, role=role)
    if not user.is_active:
        raise LaunchRefused(_("This account is switched off. Ask your programme admin."), 403)
    login(request, user, backend="accounts.backends.ArtefactModelBackend")
    request.session[SESSION_FRAME_ORIGINS] = registration_origins(lti_launch.registration)
    return user


# --- Targets ------------------------------------------------------------------------------

TARGET_KINDS = {"course": CurriculumPage, "module": ModulePage, "lesson": LessonPage}


def target_object(target: str):
    """ "course:12", "module:13", "lesson:14" or "assessment:5" -> the page or assessment."""
    kind, _sep, pk = (target or "").partition(":")
    if not pk.isdigit():
        return None
    if kind == "assessment":
        return Assessment.objects.filter(pk=int(pk), is_published=True).first()
    model = TARGET_KINDS.get(kind)
    if model is None:
        return None
    return model.objects.live().filter(pk=int(pk)).first()


def target_key(obj) -> str:
    if isinstance(obj, Assessment):
        return f"assessment:{obj.pk}"
    for kind, model in TARGET_KINDS.items():
        if isinstance(obj, model):
            return f"{kind}:{obj.pk}"
    raise ValueError(obj)


def target_url(obj) -> str:
    if isinstance(obj, Assessment):
        return reverse("assessments:detail", args=[obj.pk])
    return obj.url


def target_course(obj) -> Page | None:
    """The Artefact course a target belongs to (an assessment's course, a page's ancestor)."""
    if isinstance(obj, Assessment):
        return obj.course
    if isinstance(obj, CurriculumPage):
        return obj
    return CurriculumPage.objects.ancestor_of(obj).first()


def launch_target(lti_launch: LtiLaunch):
    """What the link opens: the custom parameter, else `?target=` on the target link URI."""
    target = lti_launch.get_custom_claim(TARGET_CLAIM)
    if not target:
        link = lti_launch.get_claim("https://purl.imsglobal.org/spec/lti/claim/target_link_uri")
        target = (parse_qs(urlsplit(link or "").query).get("target") or [""])[0]
    obj = target_object(target) if target else None
    if target and obj is None:
        raise LaunchRefused(_("The content this link points to is not in Artefact (any more)."))
    return obj


def launch_place(*, lti_launch: LtiLaunch, obj) -> None:
    """Remember the launch's course (its roster enrols there) and, for an assessment with a
    line item, where its score goes back."""
    course = target_course(obj) if obj is not None else None
    context = lti_launch.context if lti_launch.context_claim else None
    if course is not None and context is not None:
        CourseLink.objects.update_or_create(context=context, defaults={"course": course})
        if role_from_claims(lti_launch.roles_claim or []) == Role.RESIDENT:
            enrolment_create(user=lti_launch.user.auth_user, course=course)
    if isinstance(obj, Assessment):
        lineitem = (lti_launch.ags_claim or {}).get("lineitem")
        if lineitem:
            GradeLink.objects.get_or_create(
                lti_user=lti_launch.user, assessment=obj, lineitem_url=lineitem
            )


def launch_resource(*, request, lti_launch: LtiLaunch) -> str:
    """A resource link launch: sign in, place, and the URL to send the person to."""
    obj = launch_target(lti_launch)
    launch_sign_in(request=request, lti_launch=lti_launch)
    launch_place(lti_launch=lti_launch, obj=obj)
    return target_url(obj) if obj is not None else reverse("curriculum:my_progress")


# --- Deep Linking ------------------------------------------------------------------------


def deep_link_resources(*, request, targets: list) -> list[DeepLinkResource]:
    """The content items an educator picked: LTI resource links back to our launch URL,
    each naming its target; an assessment carries a line item for its score."""
    launch_url = request.build_absolute_uri(reverse("lti:launch"))
    resources = []
    for obj in targets:
        resource = (
            DeepLinkResource()
            .set_url(launch_url)
            .set_title(str(getattr(obj, "title", obj)))
            .set_custom_params({TARGET_CLAIM: target_key(obj)})
        )
        if isinstance(obj, Assessment):
            lineitem = (
                LineItem()
                .set_label(obj.title)
                # Pool draws make the paper's points vary per attempt; each score carries
                # its own maximum and the platform scales it to the line item's.
                .set_score_maximum(100.0)
                .set_resource_id(target_key(obj))
            )
            resource.set_lineitem(lineitem)
        resources.append(resource)
    return resources


def deep_link_response_jwt(*, request, lti_launch: LtiLaunch, targets: list) -> tuple[str, str]:
    """(return URL, signed LtiDeepLinkingResponse JWT) for the picked content."""
    deep_link = lti_launch.get_message_launch().get_deep_link()
    settings_claim = lti_launch.get_claim(
        "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
    )
    jwt_value = deep_link.get_response_jwt(deep_link_resources(request=request, targets=targets))
    return settings_claim["deep_link_return_url"], jwt_value


# --- Assignment and Grade Services (scores) ----------------------------------------------


def attempt_scores_queue(*, attempt: Attempt) -> int:
    """Queue the attempt's score for every line item its owner was launched with, if the
    resident may see it (released); returns how many were queued. Call inside the
    transaction that finished or released it."""
    if not attempt.is_finished:
        return 0
    marks = attempt_marks(attempt=attempt)
    if not marks.released:
        return 0
    links = GradeLink.objects.filter(
        assessment_id=attempt.assessment_id, lti_user__auth_user_id=attempt.user_id
    ).select_related("lti_user")
    queued = 0
    for link in links:
        progress = "FullyGraded" if marks.final else "Pending"
        score = {
            "scoreGiven": round(marks.points_so_far, 4),
            "scoreMaximum": round(marks.maximum, 4) or 1.0,
            "activityProgress": "Completed",
            "gradingProgress": progress,
            "userId": link.lti_user.sub,
        }
        key = f"{link.pk}:{attempt.pk}:{score['scoreGiven']}:{progress}"
        created = ScoreOutbox.objects.bulk_create(
            [
                ScoreOutbox(
                    grade_link=link,
                    attempt=attempt,
                    event_key=key,
                    score=score,
                    queued_at=timezone.now(),
                )
            ],
            ignore_conflicts=True,
        )
        if created:
            queued += 1
            transaction.on_commit(lambda key=key: _offer(key))
    return queued


def assessment_scores_queue(*, assessment: Assessment) -> int:
    """An exam's results released: every finished attempt with a line item is scored."""
    linked_users = GradeLink.objects.filter(assessment=assessment).values("lti_user__auth_user")
    attempts = Attempt.objects.filter(
        assessment=assessment, user_id__in=linked_users
    ).select_related("assessment")
    return sum(attempt_scores_queue(attempt=attempt) for attempt in attempts)


def _offer(event_key: str) -> None:
    pk = (
        ScoreOutbox.objects.filter(event_key=event_key, status="queued", attempts=0)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is not None:
        run_enqueue(model=ScoreOutbox, run_pk=pk)


class _TimedSession(requests.Session):
    """pylti1p3's requests carry no timeout; a platform that hangs must not hold a worker."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", settings.LTI_TIMEOUT_SECONDS)
        return super().request(*args, **kwargs)


def service_connector(registration) -> ServiceConnector:
    return ServiceConnector(registration.to_registration(), requests_session=_TimedSession())


def score_post(run: ScoreOutbox) -> None:
    """POST the score to the line item's /scores (AGS 2.0 §3.4)."""
    registration = run.grade_link.lti_user.registration
    ags = AssignmentsGradesService(
        service_connector(registration),
        {"scope": [SCORE_SCOPE], "lineitem": run.grade_link.lineitem_url},
    )
    grade = (
        Grade()
        .set_score_given(run.score["scoreGiven"])
        .set_score_maximum(run.score["scoreMaximum"])
        .set_activity_progress(run.score["activityProgress"])
        .set_grading_progress(run.score["gradingProgress"])
        .set_user_id(run.score["userId"])
        .set_timestamp(timezone.now().isoformat())
    )
    ags.put_grade(grade)


def retry_delay(tries: int) -> float:
    return retry_backoff_seconds(
        tries, base=settings.LTI_RETRY_BASE_SECONDS, maximum=settings.LTI_RETRY_MAX_SECONDS
    )


def score_send_compute(run: ScoreOutbox, progress):
    """The score outbox's compute step (RunPolicy.compute): post the score once.

    Sent: done. The platform refusing it as malformed or unknown (400, 404): failed, shown
    in the admin. Down, overloaded or refusing our token (no answer, 5xx, 401, 403, 429):
    deferred with a growing delay; the run engine offers it again."""
    progress(20, _("Sending the score to the platform"))
    status, why = None, ""
    try:
        score_post(run)
    except LtiServiceException as error:
        status, why = error.response.status_code, error.response.text[:1000]
    except (requests.RequestException, LtiException, OSError, ValueError) as error:
        why = str(error)
    else:

        def store(held: ScoreOutbox) -> None:
            held.platform_status, held.last_error = 200, ""
            held.send_tries += 1
            held.save(update_fields=["platform_status", "last_error", "send_tries"])

        return store
    if status in (400, 404, 422):
        ScoreOutbox.objects.filter(pk=run.pk).update(
            platform_status=status, send_tries=run.send_tries + 1
        )
        raise RunFailed(_("The platform refused the score: %(why)s") % {"why": why[:500]})
    tries = run.send_tries + 1
    delay = retry_delay(tries)
    logger.warning("LTI score %s deferred: %s %s", run.event_key, status, why[:300])
    raise RunDeferred(
        _("Platform unreachable; trying again in %(s)d s") % {"s": round(delay)},
        delay_seconds=delay,
        fields={
            "send_tries": tries,
            "next_attempt_at": timezone.now() + timedelta(seconds=delay),
            "last_error": f"{status or 'no answer'}: {why}"[:2000],
            "platform_status": status,
        },
    )


# --- Names and Role Provisioning (roster) -------------------------------------------------


def roster_sync(*, context: LtiContext) -> int:
    """Fetch the context's members (NRPS 2.0) into django-lti's memberships; each member
    gets an Artefact account linked by (issuer, subject), and the learners are enrolled in
    the course the context places (if a launch placed one). Returns the member count."""
    members = fetch_member_data(context)
    context.update_memberships(members)
    link = CourseLink.objects.filter(context=context).select_related("course").first()
    registration = context.deployment.registration
    for member in members:
        if member.get("status", "Active") != "Active":
            continue
        lti_user = LtiUser.objects.select_related("registration", "auth_user").get(
            registration=registration, sub=member["user_id"]
        )
        role = role_from_claims(member.get("roles", []))
        user = lti_user_account(lti_user=lti_user, role=role)
        if link is not None and role == Role.RESIDENT:
            enrolment_create(user=user, course=link.course)
    return len(members)


def tool_key_ensure() -> None:
    """The tool's signing key pair, made once and kept in the database (lti_tool.Key)."""
    if not Key.objects.active().exists():
        Key.objects.generate()
