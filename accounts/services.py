"""Writes for accounts: creating people with a role, enrolling them, demo accounts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.models import Cohort, Enrolment, Role, User

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
