"""The programme admin's forms in the Django admin: a role is set when an account is made,
and the course pickers offer courses, not every Wagtail page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role, User

pytestmark = pytest.mark.django_db


def test_adding_a_user_sets_their_role(client, people):
    client.force_login(people["admin"])
    form = client.get(reverse("admin:accounts_user_add")).content.decode()
    assert 'name="role"' in form
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "new-examiner",
            "usable_password": "true",
            "password1": "a-long-enough-Passphrase-1",
            "password2": "a-long-enough-Passphrase-1",
            "role": Role.EXAMINER,
            "first_name": "Nia",
            "last_name": "Okafor",
            "email": "nia@example.org",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(username="new-examiner").role == Role.EXAMINER


def test_course_pickers_offer_courses_only(client, people, demo_lesson):
    course = demo_lesson.get_parent().get_parent()
    client.force_login(people["admin"])
    cohort_form = client.get(reverse("admin:accounts_cohort_add")).content.decode()
    enrolment_form = client.get(reverse("admin:accounts_enrolment_add")).content.decode()
    enrolments = client.get(reverse("admin:accounts_enrolment_changelist")).content.decode()
    for html in (cohort_form, enrolment_form, enrolments):
        assert course.title in html
        assert demo_lesson.title not in html  # a lesson is not a course


def test_changing_a_role_in_the_admin_grants_what_the_role_grants(client, people):
    """Made educator in the Django admin, a resident can author in Wagtail at once (the
    Editors group); made resident again, the group goes."""
    from django.contrib.auth.models import Group

    from accounts.services import user_role_set

    user_role_set(user=people["educator"], role=Role.EDUCATOR)  # makes sure Editors exists
    person = people["outsider"]
    client.force_login(people["admin"])

    def change_role(role):
        response = client.post(
            reverse("admin:accounts_user_change", args=[person.pk]),
            {
                "username": person.username,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": person.email,
                "is_active": "on",
                "date_joined_0": "2026-01-05",
                "date_joined_1": "09:00:00",
                "role": role,
            },
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        person.refresh_from_db()

    change_role(Role.EDUCATOR)
    assert person.role == Role.EDUCATOR
    assert person.groups.filter(name="Editors").exists()
    assert Group.objects.get(name="Editors").user_set.filter(pk=person.pk).exists()
    client.force_login(person)
    assert client.get(reverse("wagtailadmin_home")).status_code == 200

    client.force_login(people["admin"])
    change_role(Role.RESIDENT)
    assert not person.groups.filter(name="Editors").exists()
    client.force_login(person)
    assert client.get(reverse("wagtailadmin_home")).status_code == 302  # no admin access
