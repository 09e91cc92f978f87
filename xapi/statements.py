"""Building xAPI 1.0.3 statements: verbs, activities and the pseudonymous actor.

Pure functions of the platform's objects; nothing here writes or sends. Verbs are ADL's
(http://adlnet.gov/expapi/verbs/...), activity types ADL's (lesson, assessment,
cmi.interaction, simulation). Our statements are what cmi5 calls "cmi5 allowed": they use
cmi5's verbs and result fields where it fits (completed, passed/failed in `success`,
`duration`, `score.scaled`) but are not sent from a cmi5 launch session, so they carry no
cmi5 category or registration.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta

from django.conf import settings

ADL_VERB = "http://adlnet.gov/expapi/verbs/"
VERBS = {
    "experienced": "experienced",
    "attempted": "attempted",
    "completed": "completed",
    "answered": "answered",
    "scored": "scored",
}
ADL_ACTIVITY = "http://adlnet.gov/expapi/activities/"

# Question kinds as xAPI interaction types; the rest (image marks, case ratings) are "other".
INTERACTION_TYPES = {
    "single_choice": "choice",
    "multiple_choice": "choice",
    "numeric": "numeric",
    "short_text": "fill-in",
    "essay": "long-fill-in",
    "lab_report": "long-fill-in",
}

# Metrics of a lab run that measure the change the perturbation made (labs.computation).
CHANGE_MARKERS = ("change", "vs original", "relabelled", "perturbed")


def homepage() -> str:
    return settings.XAPI_HOMEPAGE.rstrip("/")


def iri(*parts) -> str:
    """A stable identifier under the platform's home page (an IRI; it need not resolve)."""
    return "/".join([homepage(), "xapi", *(str(part) for part in parts)])


def statement_uuid(event_key: str) -> uuid.UUID:
    """The statement's id: the same event always gives the same id, so the LRS keeps one."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, homepage() + "/xapi")
    return uuid.uuid5(namespace, event_key)


def actor_name(user_pk: int) -> str:
    """A keyed hash of the user id: stable per user, meaningless without the key."""
    key = (settings.XAPI_ACTOR_KEY or "xapi-actor:" + settings.SECRET_KEY).encode()
    return hmac.new(key, f"user:{user_pk}".encode(), hashlib.sha256).hexdigest()[:40]


def actor(user_pk: int) -> dict:
    # Never a name or an email: the account's name is the only thing that names the person.
    return {"objectType": "Agent", "account": {"homePage": homepage(), "name": actor_name(user_pk)}}


def verb(key: str) -> dict:
    return {"id": ADL_VERB + VERBS[key], "display": {"en-US": VERBS[key]}}


def activity(kind: str, pk, *, activity_type: str, name: str, **definition) -> dict:
    return {
        "objectType": "Activity",
        "id": iri(kind, pk),
        "definition": {
            "type": ADL_ACTIVITY + activity_type,
            "name": {"en-US": str(name)[:200]},
            **definition,
        },
    }


def extension(name: str) -> str:
    return iri("extensions", name)


def iso_duration(delta: timedelta) -> str:
    return f"PT{max(delta.total_seconds(), 0):.2f}S"


def statement(
    *,
    statement_id: uuid.UUID,
    user_pk: int,
    verb_key: str,
    obj: dict,
    timestamp: datetime,
    result: dict | None = None,
    context: dict | None = None,
) -> dict:
    built = {
        "id": str(statement_id),
        "actor": actor(user_pk),
        "verb": verb(verb_key),
        "object": obj,
        "timestamp": timestamp.isoformat(),
    }
    if result:
        built["result"] = result
    if context:
        built["context"] = context
    return built


# --- Activities of the platform ----------------------------------------------------------


def lesson_activity(lesson) -> dict:
    return activity("lesson", lesson.pk, activity_type="lesson", name=lesson.title)


def lab_activity(exercise) -> dict:
    return activity("lab", exercise.pk, activity_type="simulation", name=exercise.title)


def assessment_activity(assessment) -> dict:
    return activity(
        "assessment",
        assessment.pk,
        activity_type="assessment",
        name=assessment.title,
        extensions={extension("assessment-kind"): assessment.kind},
    )


def question_activity(question) -> dict:
    return activity(
        "question",
        question.pk,
        activity_type="cmi.interaction",
        name=question.title,
        interactionType=INTERACTION_TYPES.get(question.kind, "other"),
    )


def lab_run_context(run) -> dict:
    """Model, perturbation and severity of a lab run; its lesson as the parent."""
    parameters = run.parameters or {}
    context = {
        "platform": "Artefact",
        "extensions": {
            extension("lab-run"): run.pk,
            extension("model"): parameters.get("model_key", ""),
            extension("perturbation"): parameters.get("perturbation_key", ""),
            extension("severity"): float(parameters.get("severity", 0.0)),
        },
    }
    if run.lesson_id:
        context["contextActivities"] = {"parent": [{"id": iri("lesson", run.lesson_id)}]}
    return context


def measured_change(metrics: dict) -> dict:
    return {
        name: value
        for name, value in (metrics or {}).items()
        if any(marker in name for marker in CHANGE_MARKERS)
    }


def score_result(*, raw: float, maximum: float, pass_percent: float | None = None) -> dict:
    raw = max(min(raw, maximum), 0.0)
    result = {"score": {"raw": round(raw, 4), "min": 0.0, "max": round(maximum, 4)}}
    if maximum > 0:
        result["score"]["scaled"] = round(max(min(raw / maximum, 1.0), 0.0), 4)
        if pass_percent is not None:
            result["success"] = 100.0 * raw / maximum >= pass_percent
    return result
