"""A programme admin enrols residents from a CSV (issue 17 item 6): the file is read row by
row into a preview, every problem is named with its line, and the enrolment is all rows or
none. The page echoes what the file said, escaped."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.enrolment_csv import MAX_CSV_BYTES, CsvRefused, enrolment_csv_plan
from accounts.models import Cohort, Enrolment, Role
from accounts.services import enrolment_create, enrolments_import
from tests.factories import UserFactory
from tests.grading_tests.builders import course_with_lessons

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(people):
    course = course_with_lessons()["course"]
    cohort = Cohort.objects.create(name="Residents 2026")
    lee = UserFactory(username="lee", email="Lee@Example.org", role=Role.RESIDENT)
    return {"course": course, "cohort": cohort, "lee": lee, **people}


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _state():
    """Every enrolment and membership, to show that a refused file changed nothing."""
    enrolments = set(Enrolment.objects.values_list("user__username", "course_id"))
    members = set(Cohort.members.through.objects.values_list("user__username", "cohort_id"))
    return enrolments, members


def test_a_good_file_enrols_by_user_name_and_email_and_joins_the_cohort(world):
    course, cohort = world["course"], world["cohort"]
    content = _csv(
        "User;Course;Cohort",  # a German spreadsheet's semicolons, the header in any case
        "rhea;failures;Residents 2026",
        "lee@example.org;Imaging AI failures;",
        "otto;;Residents 2026",
    )
    preview = enrolment_csv_plan(content=b"\xef\xbb\xbf" + content)  # Excel's BOM
    assert preview.ok
    assert (preview.enrolment_count, preview.membership_count) == (2, 2)
    assert not Enrolment.objects.filter(course=course).exists()  # a preview writes nothing

    done = enrolments_import(content=content)
    assert done.ok
    assert set(
        Enrolment.objects.filter(course=course).values_list("user__username", flat=True)
    ) == {
        "rhea",
        "lee",
    }
    assert set(cohort.members.values_list("username", flat=True)) == {"rhea", "otto"}

    again = enrolments_import(content=content)  # importing twice changes nothing
    assert again.ok and again.enrolment_count == 0 and again.membership_count == 0
    assert all(row.changes_nothing for row in again.rows)


def test_one_bad_row_enrols_nobody_and_every_problem_is_named_with_its_line(world):
    before = _state()
    plan = enrolments_import(
        content=_csv(
            "user,course,cohort",
            "rhea,failures,",  # fine on its own
            "nobody,failures,",
            "edda,failures,",  # an educator
            "lee,no-such-course,Residents 2025",
            "otto,,",
            "rhea,failures",  # a cell short
        )
    )
    assert not plan.ok
    problems = {row.line: " ".join(row.problems) for row in plan.problem_rows}
    assert set(problems) == {3, 4, 5, 6, 7}
    assert "No account has the user name or e-mail address nobody" in problems[3]
    assert "not a resident" in problems[4]
    assert "No course has the slug or title no-such-course" in problems[5]
    assert "No cohort is called Residents 2025" in problems[5]
    assert "Name a course, a cohort or both" in problems[6]
    assert "2 cells" in problems[7]
    assert _state() == before


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "empty"),
        (b"user,course\n", "no people"),
        (b"username,course\nrhea,failures\n", "must name the columns"),
        (b"user\nrhea\n", "must name the columns"),
        (b"user,course,course\nrhea,failures,failures\n", "named twice"),
        ("user,course\nrhé,failures\n".encode("latin-1"), "not UTF-8"),
        (b"user,course\n" + b"rhea,failures\n" * (MAX_CSV_BYTES // 14 + 1), "larger than"),
        (b'user,course\n"rhea,failures\n', "not valid CSV"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_why(world, content, says):
    before = _state()
    with pytest.raises(CsvRefused, match=says):
        enrolments_import(content=content)
    assert _state() == before


def test_already_enrolled_and_repeated_rows_change_nothing(world):
    enrolment_create(user=world["resident"], course=world["course"])
    plan = enrolment_csv_plan(
        content=_csv("user,course", "rhea,failures", "lee,failures", "lee,failures")
    )
    assert plan.ok
    assert [row.enrols for row in plan.rows] == [False, True, False]


def test_the_page_previews_then_enrols_and_echoes_cells_escaped(client, world):
    client.force_login(world["admin"])
    url = reverse("enrolment_import")
    formula = '=HYPERLINK("http://evil.invalid","x")<script>alert(1)</script>'
    upload = _csv("user,course", f'"{formula.replace(chr(34), chr(34) * 2)}",failures')
    from django.core.files.uploadedfile import SimpleUploadedFile

    refused = client.post(url, {"file": SimpleUploadedFile("people.csv", upload, "text/csv")})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'name="content"' not in page  # nothing to confirm while a row has a problem

    good = _csv("user,course,cohort", "lee,failures,Residents 2026")
    preview = client.post(url, {"file": SimpleUploadedFile("people.csv", good, "text/csv")})
    assert preview.status_code == 200
    assert 'name="content"' in preview.content.decode()
    assert not Enrolment.objects.filter(user=world["lee"]).exists()

    done = client.post(url, {"content": good.decode().replace("\n", "\r\n")}, follow=True)
    assert done.status_code == 200
    assert "1 new course enrolment, 1 new cohort membership" in done.content.decode()
    assert Enrolment.objects.filter(user=world["lee"], course=world["course"]).exists()
    assert world["cohort"].members.filter(pk=world["lee"].pk).exists()


def test_only_programme_admins_may_import(client, world):
    for who in ("resident", "educator", "examiner"):
        client.force_login(world[who])
        response = client.post(
            reverse("enrolment_import"), {"content": "user,course\nlee,failures\n"}
        )
        assert response.status_code == 403
    assert not Enrolment.objects.filter(user=world["lee"]).exists()


def test_the_enrolment_list_in_the_admin_links_to_the_import(client, world):
    client.force_login(world["admin"])
    page = client.get(reverse("admin:accounts_enrolment_changelist")).content.decode()
    assert f'href="{reverse("enrolment_import")}"' in page
