"""Which studies a resident sees (studies.rules): through an enrolment or a cohort, only
published ones, and every change shows on the next ask (nothing is remembered)."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.permissions import may, visible
from accounts.services import cohort_ensure, enrolment_create
from curriculum.models import CurriculumPage
from curriculum.services import curriculum_index_ensure
from studies.models import Study, StudyOrigin
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _study(uid: str) -> Study:
    return Study.objects.create(study_instance_uid=uid, origin=StudyOrigin.LIBRARY)


def _visible_uids(user) -> set[str]:
    shown = visible(user, "studies.studies", Study.objects.all())
    return set(shown.values_list("study_instance_uid", flat=True))


def test_enrolment_and_cohort_show_a_courses_published_studies_and_changes_show_at_once():
    index = curriculum_index_ensure()
    course = index.add_child(instance=CurriculumPage(title="Chest", slug="chest"))
    other = index.add_child(instance=CurriculumPage(title="Neuro", slug="neuro"))
    shown, elsewhere, quarantined = _study("1.2.1"), _study("1.2.2"), _study("1.2.3")
    shown.courses.add(course)
    elsewhere.courses.add(other)
    quarantined.courses.add(course)
    quarantined.is_quarantined = True
    quarantined.save()
    enrolled = UserFactory(username="enrolled", role=Role.RESIDENT)
    member = UserFactory(username="member", role=Role.RESIDENT)
    enrolment_create(user=enrolled, course=course)
    cohort = cohort_ensure(name="Residents 2026", courses=[course], members=[member])

    for resident in (enrolled, member):
        assert _visible_uids(resident) == {"1.2.1"}
        assert may(resident, "studies.view_study", shown)
        assert not may(resident, "studies.view_study", elsewhere)
        assert not may(resident, "studies.view_study", quarantined)

    # A study leaving the course, quarantined again, or released: seen on the next ask.
    shown.courses.remove(course)
    assert _visible_uids(member) == set()
    shown.courses.add(course)
    quarantined.is_quarantined = False
    quarantined.save()
    assert _visible_uids(member) == {"1.2.1", "1.2.3"}
    # The cohort taking a second course; the member leaving the cohort.
    cohort.courses.add(other)
    assert _visible_uids(member) == {"1.2.1", "1.2.2", "1.2.3"}
    cohort.members.remove(member)
    assert _visible_uids(member) == set()
    assert _visible_uids(enrolled) == {"1.2.1", "1.2.3"}
    # Staff see every study, quarantined included; a resident in no course sees none.
    educator = UserFactory(username="edda", role=Role.EDUCATOR)
    assert len(_visible_uids(educator)) == 3
    assert _visible_uids(UserFactory(username="nobody", role=Role.RESIDENT)) == set()
