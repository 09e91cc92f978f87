"""Writes for accounts: creating people with a role, enrolling them, demo accounts."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.enrolment_csv import EnrolmentPlan, enrolment_csv_plan
from accounts.models import Cohort, Enrolment, ExternalIdentity, Role, User

# Wagtail ships these groups (migration wagtailcore 0002), so Wagtail's own page
# permissions stay the source of truth in the admin. Educators are Editors: they draft and
# submit for moderation; publishing goes through the "Curriculum review" workflow, approved
# by a lead educator (a member of the "Lead educators" group, named by a programme admin).
WAGTAIL_GROUPS_BY_ROLE = {
    Role.EDUCATOR: ("Editors",),
}


@transaction.atomic
def user_role_set(*, user: User, role: Role) -> User:
    """Give the user a role and the Django/Wagtail privileges that go with it."""
    user.role = role
    user.is_staff = role == Role.ADMIN
    user.is_superuser = role == Role.ADMIN
    user.save(update_fields=["role", "is_staff", "is_superuser"])
    wanted = set(WAGTAIL_GROUPS_BY_ROLE.get(role, ()))
    managed = {name for names in WAGTAIL_GROUPS_BY_ROLE.values() for name in names}
    user.groups.remove(*Group.objects.filter(name__in=managed - wanted))
    user.groups.add(*Group.objects.filter(name__in=wanted))
    return user


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: Role,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    is_demo: bool = False,
) -> User:
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_demo=is_demo,
    )
    # The site's password rules (AUTH_PASSWORD_VALIDATORS) hold for every account we make,
    # demo accounts included; ValidationError says which rule failed.
    validate_password(password, user)
    user.set_password(password)
    user.save()
    return user_role_set(user=user, role=role)


def enrolment_create(*, user: User, course) -> Enrolment:
    """Enrol a user in a course; enrolling twice is harmless."""
    enrolment, _created = Enrolment.objects.get_or_create(user=user, course=course)
    return enrolment


def enrolments_import(*, content: bytes) -> EnrolmentPlan:
    """Enrol the residents an admin's CSV names (accounts.enrolment_csv documents the
    columns): every row's enrolment and cohort membership, or, when any row has a problem,
    none at all. Returns the plan read, so the caller can list what was done or what stops
    it. Raises accounts.enrolment_csv.CsvRefused when the file cannot be read.

    The plan is read again here, inside the transaction, rather than trusted from a preview:
    what was previewed may have changed since (an account disabled, a cohort renamed).
    """
    with transaction.atomic():
        plan = enrolment_csv_plan(content=content)
        if not plan.ok:
            return plan
        for row in plan.rows:
            if row.enrols:
                enrolment_create(user=row.user, course=row.course)
            if row.joins:
                row.cohort.members.add(row.user)
    return plan


def cohort_ensure(*, name: str, courses=(), members=()) -> Cohort:
    cohort, _created = Cohort.objects.get_or_create(name=name)
    cohort.courses.add(*courses)
    cohort.members.add(*members)
    return cohort


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: Role
    created: bool


DEMO_PEOPLE = (
    ("resident", Role.RESIDENT, "Rhea", "Resident"),
    ("educator", Role.EDUCATOR, "Edda", "Educator"),
    ("examiner", Role.EXAMINER, "Ezra", "Examiner"),
    # Double marking needs two markers and a moderator who is neither (the admin).
    ("examiner2", Role.EXAMINER, "Esme", "Second-Examiner"),
    ("admin", Role.ADMIN, "Ada", "Admin"),
)


def demo_accounts_ensure() -> list[DemoAccount]:
    """Create the demo accounts (one per role, two examiners) if missing; never in production.

    Existing demo accounts keep their password (it was printed when they were made), so
    running the demo set-up twice changes nothing. New passwords are random, not typed in.
    """
    if not settings.DEMO_SETUP_ALLOWED:
        raise ImproperlyConfigured("Demo accounts are refused under production settings.")
    accounts = []
    for username, role, first_name, last_name in DEMO_PEOPLE:
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            if not existing.is_demo:
                raise ImproperlyConfigured(
                    f"A real account named {username!r} exists; the demo will not touch it."
                )
            accounts.append(DemoAccount(username, "(unchanged)", role, created=False))
            continue
        password = secrets.token_urlsafe(9)
        user_create(
            username=username,
            password=password,
            role=role,
            first_name=first_name,
            last_name=last_name,
            email=f"{username}@artefact.invalid",
            is_demo=True,
        )
        accounts.append(DemoAccount(username, password, role, created=True))
    return accounts


class SsoRefused(Exception):
    """Single sign-on refused for a reason the person can act on; the message is shown to
    them as it stands."""


def _claim_values(claims: Mapping, name: str) -> list[str] | None:
    """A claim that may be one string or a list of strings; None when it is absent."""
    value = claims.get(name)
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [item.strip() for item in values if isinstance(item, str) and item.strip()]


def sso_role_from_claims(
    claims: Mapping, *, role_claim: str, role_map: Mapping[str, str], allowed: Iterable[str]
) -> Role:
    """Our role for the provider's role claim, or SsoRefused.

    A missing or unknown role is refused rather than mapped to the least privileged role:
    a resident can open every course of their cohort and start lab runs on real studies, so
    an account the provider never said was a resident must not become one by default, and
    the refusal page tells the person (and, through them, the programme) what to fix.
    Values our map does not name are ignored when others map (a "groups" claim carries
    many); values that map to two different roles are refused as ambiguous.
    """
    values = _claim_values(claims, role_claim)
    if not values:
        raise SsoRefused(
            _(
                "Your sign-in did not say which role you have here (no %(claim)s claim). "
                "Ask your programme admin to give you a role at your institution's sign-in."
            )
            % {"claim": repr(role_claim)}
        )
    allowed = set(allowed)
    mapped = {role_map.get(value, value) for value in values}
    roles = {Role(name) for name in mapped if name in Role.values}
    if not roles:
        raise SsoRefused(
            _(
                "Your role at your institution (%(roles)s) has no role here. "
                "Ask your programme admin to map it."
            )
            % {"roles": ", ".join(values)}
        )
    if len(roles) > 1:
        raise SsoRefused(
            _(
                "Your sign-in names more than one role here (%(roles)s); "
                "ask your programme admin which you should have."
            )
            % {"roles": ", ".join(sorted(roles))}
        )
    role = roles.pop()
    if role not in allowed:
        raise SsoRefused(
            _(
                "The role %(role)s is not given by single sign-on here; "
                "sign in with your local account or ask your programme admin."
            )
            % {"role": role.label}
        )
    return role


def _sso_username(*, issuer: str, subject: str, claims: Mapping) -> str:
    """The provider's preferred_username when it is free, else a name derived from
    (issuer, subject). An existing account is never taken over by having the same name."""
    preferred = claims.get("preferred_username")
    if (
        isinstance(preferred, str)
        and 0 < len(preferred) <= 150
        and not User.objects.filter(username__iexact=preferred).exists()
    ):
        try:
            User.username_validator(preferred)
            return preferred
        except ValidationError:
            pass
    digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:12]
    return f"sso-{digest}"


def _user_cohorts_set(*, user: User, names: list[str]) -> None:
    """The user is a member of exactly these cohorts (made when missing)."""
    wanted = {name[:120] for name in names}
    for name in wanted:
        cohort_ensure(name=name, members=[user])
    user.cohorts.remove(*user.cohorts.exclude(name__in=wanted))


@transaction.atomic
def user_sign_in_by_sso(*, issuer: str, claims: Mapping) -> User:
    """The account linked to (issuer, sub), made on the first sign-in, with role, cohorts,
    names and e-mail set from this sign-in's claims. Raises SsoRefused (nothing written)
    when the claims give no acceptable role or the linked account is disabled.

    Precondition: the claims come from an ID token whose signature, issuer, audience,
    expiry and nonce were checked, merged with userinfo for the same `sub`.
    The role goes through `user_role_set`, so the Wagtail groups follow it. The cohort claim,
    when present, sets the cohorts (joined and left); when absent they are left as they are.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SsoRefused(_("Your institution's sign-in did not identify you (no subject)."))
    role = sso_role_from_claims(
        claims,
        role_claim=settings.OIDC_ROLE_CLAIM,
        role_map=settings.OIDC_ROLE_MAP,
        allowed=settings.OIDC_ALLOWED_ROLES,
    )
    identity = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    if identity is None:
        user = User(username=_sso_username(issuer=issuer, subject=subject, claims=claims))
        user.set_unusable_password()
        user.save()
        identity = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    user = identity.user
    if not user.is_active:
        raise SsoRefused("Your account here is disabled; ask your programme admin.")
    for field, claim in (("first_name", "given_name"), ("last_name", "family_name")):
        value = claims.get(claim)
        if isinstance(value, str):
            setattr(user, field, value[:150])
    email = claims.get("email")
    if isinstance(email, str) and len(email) <= 254:
        user.email = email  # kept for contact only; never used to find the account
    user.save(update_fields=["first_name", "last_name", "email"])
    user_role_set(user=user, role=role)
    cohorts = _claim_values(claims, settings.OIDC_COHORT_CLAIM)
    if cohorts is not None:
        _user_cohorts_set(user=user, names=cohorts)
    identity.last_sign_in_at = timezone.now()
    identity.save(update_fields=["last_sign_in_at"])
    return user
