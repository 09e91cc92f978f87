import pytest

from accounts import permissions
from accounts.models import Role
from accounts.services import cohort_ensure, demo_accounts_ensure
from labs.services import lab_run_create
from tests.factories import UserFactory


@pytest.mark.django_db
def test_course_pages_need_enrolment_or_a_staff_role(demo_lesson, people):
    assert permissions.may(people["resident"], "curriculum.view_page", demo_lesson)
    assert not permissions.may(people["outsider"], "curriculum.view_page", demo_lesson)
    for role in ("educator", "examiner", "admin"):
        assert permissions.may(people[role], "curriculum.view_page", demo_lesson)


@pytest.mark.django_db
def test_cohort_membership_enrols(demo_lesson, people):
    course = demo_lesson.get_parent().get_parent()
    assert not permissions.may(people["outsider"], "curriculum.view_page", demo_lesson)
    cohort_ensure(name="Residents 2026", courses=[course], members=[people["outsider"]])
    assert permissions.may(people["outsider"], "curriculum.view_page", demo_lesson)


@pytest.mark.django_db
def test_lab_may_only_be_started_from_a_lesson_that_embeds_it(demo_lesson, people):
    exercise = demo_lesson.body[1].value["exercise"]
    module = demo_lesson.get_parent()
    assert permissions.may(people["resident"], "labs.start_lab", exercise, page=demo_lesson)
    assert not permissions.may(people["resident"], "labs.start_lab", exercise, page=module)
    assert not permissions.may(people["outsider"], "labs.start_lab", exercise, page=demo_lesson)


@pytest.mark.django_db
def test_a_residents_run_is_hidden_from_other_residents(demo_lesson, people):
    exercise = demo_lesson.body[1].value["exercise"]
    run = lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    assert permissions.may(people["resident"], "labs.view_run", run)
    assert not permissions.may(people["outsider"], "labs.view_run", run)
    assert permissions.may(people["educator"], "labs.view_run", run)
    # Examiners mark blind: a resident's run reaches them only through the grading page.
    assert not permissions.may(people["examiner"], "labs.view_run", run)
    assert permissions.may(people["resident"], "labs.cancel_run", run)
    assert not permissions.may(people["examiner"], "labs.cancel_run", run)


@pytest.mark.django_db
def test_roles_map_to_admin_access(people):
    assert people["admin"].is_superuser and people["admin"].is_staff
    assert people["educator"].has_perm("wagtailadmin.access_admin")
    assert not people["examiner"].has_perm("wagtailadmin.access_admin")
    assert not people["resident"].is_staff


@pytest.mark.django_db
def test_demo_accounts_are_idempotent_and_refused_in_production(settings):
    first = demo_accounts_ensure()
    assert {a.username for a in first} == {"resident", "educator", "examiner", "examiner2", "admin"}
    assert all(a.created and len(a.password) >= 12 for a in first)
    second = demo_accounts_ensure()
    assert not any(a.created for a in second)
    settings.DEMO_SETUP_ALLOWED = False
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        demo_accounts_ensure()


@pytest.mark.django_db
def test_demo_set_up_never_takes_over_a_real_account():
    UserFactory(username="admin", role=Role.RESIDENT)
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="real account"):
        demo_accounts_ensure()


@pytest.mark.django_db
def test_every_run_family_hides_residents_runs_from_examiners(people):
    """Lab, cohort, training, de-identification and reading-room runs: owner, educators and
    admins; an examiner sees their own runs only (blind marking), in lists and one by one."""
    from types import SimpleNamespace

    from django.db.models import Q

    resident, examiner = people["resident"], people["examiner"]
    residents_run = SimpleNamespace(user_id=resident.pk)
    examiners_run = SimpleNamespace(user_id=examiner.pk)
    for view_rule in (
        "labs.view_run",
        "evaluation.view_run",
        "model_builder.view_run",
        "deid_lab.view_attempt",
        "reading_room.view_run",
    ):
        assert permissions.may(resident, view_rule, residents_run)
        assert permissions.may(people["educator"], view_rule, residents_run)
        assert permissions.may(people["admin"], view_rule, residents_run)
        assert not permissions.may(examiner, view_rule, residents_run)
        assert permissions.may(examiner, view_rule, examiners_run)
    for list_filter in ("labs.runs", "evaluation.runs", "deid_lab.attempts", "reading_room.runs"):
        assert permissions.visible_q(examiner, list_filter) == Q(user_id=examiner.pk)
        assert permissions.visible_q(people["educator"], list_filter) == Q()
