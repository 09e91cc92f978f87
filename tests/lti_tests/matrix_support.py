"""The LTI tool's rows of the role matrix (tests/test_role_matrix.py): an LMS course
(LtiContext) the matrix's educator teaches through a platform registration."""

from __future__ import annotations

import uuid

from django.urls import reverse
from lti_tool.models import LtiContext, LtiDeployment, LtiMembership, LtiRegistration, LtiUser


def lms_context(context: dict) -> LtiContext:
    """Made once per row: a registration, its deployment, an LMS course with the educator
    as its Instructor (linked by subject to the matrix's educator account)."""
    if "lms_context" not in context:
        registration = LtiRegistration.objects.create(
            name="Matrix LMS",
            issuer="https://lms.matrix.test",
            client_id="artefact",
            auth_url="https://lms.matrix.test/auth",
            token_url="https://lms.matrix.test/token",
            keyset_url="https://lms.matrix.test/jwks",
        )
        deployment = LtiDeployment.objects.create(
            registration=registration, deployment_id="1", is_active=True
        )
        lms_course = LtiContext.objects.create(
            deployment=deployment, id_on_platform="course-1", title="Radiology AI"
        )
        teacher = LtiUser.objects.create(
            registration=registration, sub="teacher", auth_user=context["people"]["educator"]
        )
        LtiMembership.objects.create(user=teacher, context=lms_course, is_instructor=True)
        context["lms_context"] = lms_course
    return context["lms_context"]


def roster_url(context: dict) -> str:
    return reverse("lti:roster", args=[lms_context(context).pk])


def login_url(context: dict) -> str:
    return reverse("lti:login", args=[uuid.UUID(int=1)])
