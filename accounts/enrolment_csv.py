"""Reading a programme admin's enrolment CSV into a plan: who joins which course and cohort,
row by row, with every problem found before anything is written (issue 17 item 6).

The file has a header row naming its columns (any order, any case):

    user     the resident's user name or e-mail address (required)
    course   the course's slug or its title (optional)
    cohort   an existing cohort's name (optional)

Each row names a user and at least one of course and cohort. Commas or semicolons separate
the cells (a spreadsheet saved in a German locale writes semicolons); UTF-8, with or without
the byte-order mark a spreadsheet adds. Only residents are enrolled (staff see every course
already), only existing cohorts are joined (a typo must not make a new cohort), and a row
that would change nothing says so rather than failing. `accounts.services.enrolments_import`
writes a plan with no problems, all rows or none.

Courses are Wagtail pages of the curriculum app, named by string so accounts imports no app.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import Cohort, Enrolment, Role, User

MAX_CSV_BYTES = 256 * 1024
MAX_CSV_ROWS = 2000
COLUMNS = ("user", "course", "cohort")


class CsvRefused(ValueError):
    """The file as a whole cannot be read (size, encoding, header); the message says why."""


@dataclass
class EnrolmentRow:
    """One data row of the file: the cells as written, what they name, and what it does."""

    line: int
    cells: dict[str, str]
    user: User | None = None
    course: object | None = None  # a curriculum.CurriculumPage
    cohort: Cohort | None = None
    enrols: bool = False  # a new enrolment in `course`
    joins: bool = False  # a new membership of `cohort`
    problems: list[str] = field(default_factory=list)

    @property
    def changes_nothing(self) -> bool:
        return not self.problems and not self.enrols and not self.joins


@dataclass
class EnrolmentPlan:
    rows: list[EnrolmentRow]

    @property
    def problem_rows(self) -> list[EnrolmentRow]:
        return [row for row in self.rows if row.problems]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.problem_rows

    @property
    def enrolment_count(self) -> int:
        return sum(row.enrols for row in self.rows)

    @property
    def membership_count(self) -> int:
        return sum(row.joins for row in self.rows)


def _text(content: bytes) -> str:
    if len(content) > MAX_CSV_BYTES:
        raise CsvRefused(
            _("The file is larger than %(kb)d KB; split it into smaller files.")
            % {"kb": MAX_CSV_BYTES // 1024}
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvRefused(
            _("The file is not UTF-8 text; save it from your spreadsheet as “CSV UTF-8”.")
        ) from None


def _records(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's column names and the non-empty data rows with their line numbers."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise CsvRefused(
            _("The file is not valid CSV near line %(line)d: %(error)s")
            % {"line": reader.line_num, "error": error}
        ) from None
    records = [(line, row) for line, row in records if any(cell.strip() for cell in row)]
    if not records:
        raise CsvRefused(_("The file is empty."))
    header = [cell.strip().lower() for cell in records[0][1]]
    return header, records[1:]


def _check_header(header: list[str]) -> None:
    unknown = [name for name in header if name not in COLUMNS]
    if unknown or "user" not in header or not {"course", "cohort"} & set(header):
        raise CsvRefused(
            _(
                "The first row must name the columns: user, and course or cohort or both "
                "(found: %(found)s)."
            )
            % {"found": ", ".join(header) or "—"}
        )
    if len(set(header)) != len(header):
        raise CsvRefused(_("A column is named twice in the first row."))


def _user_for(value: str) -> tuple[User | None, str]:
    """The account named by user name, else by e-mail address; or why there is none."""
    user = User.objects.filter(username=value).first()
    if user is None and "@" in value:
        by_email = list(User.objects.filter(email__iexact=value)[:2])
        if len(by_email) > 1:
            return None, _("More than one account has the e-mail address %(value)s.") % {
                "value": value
            }
        user = by_email[0] if by_email else None
    if user is None:
        return None, _("No account has the user name or e-mail address %(value)s.") % {
            "value": value
        }
    if not user.is_active:
        return None, _("The account %(name)s is disabled.") % {"name": user.get_username()}
    if user.role != Role.RESIDENT:
        return None, _("%(name)s is not a resident (%(role)s); only residents are enrolled.") % {
            "name": user.get_username(),
            "role": user.get_role_display(),
        }
    return user, ""


def _course_for(value: str):
    course_model = apps.get_model("curriculum", "CurriculumPage")
    courses = list(course_model.objects.filter(Q(slug=value) | Q(title__iexact=value))[:2])
    if len(courses) > 1:
        return None, _("More than one course is called %(value)s; use its slug.") % {"value": value}
    if not courses:
        return None, _("No course has the slug or title %(value)s.") % {"value": value}
    return courses[0], ""


def _cohort_for(value: str) -> tuple[Cohort | None, str]:
    cohort = Cohort.objects.filter(name=value).first()
    if cohort is None:
        return None, _("No cohort is called %(value)s; create it under Administration first.") % {
            "value": value
        }
    return cohort, ""


def enrolment_csv_plan(*, content: bytes) -> EnrolmentPlan:
    """What the file would do, row by row; writes nothing. Raises CsvRefused when the file
    as a whole cannot be read. Rows repeating an earlier row change nothing."""
    header, records = _records(_text(content))
    _check_header(header)
    if len(records) > MAX_CSV_ROWS:
        raise CsvRefused(
            _("The file has %(rows)d rows; at most %(max)d are read at once.")
            % {"rows": len(records), "max": MAX_CSV_ROWS}
        )
    if not records:
        raise CsvRefused(_("The file has a header row but no people."))
    planned_enrolments: set[tuple[int, int]] = set()
    planned_memberships: set[tuple[int, int]] = set()
    rows = []
    for line, cells in records:
        if len(cells) != len(header):
            row = EnrolmentRow(line=line, cells=dict(zip(header, cells, strict=False)))
            row.problems.append(
                _("This row has %(found)d cells; the header names %(wanted)d.")
                % {"found": len(cells), "wanted": len(header)}
            )
            rows.append(row)
            continue
        stripped = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        row = EnrolmentRow(line=line, cells=stripped)
        rows.append(row)
        user_name = row.cells.get("user", "")
        course_name = row.cells.get("course", "")
        cohort_name = row.cells.get("cohort", "")
        if not user_name:
            row.problems.append(_("No user is named."))
        else:
            row.user, problem = _user_for(user_name)
            if problem:
                row.problems.append(problem)
        if not course_name and not cohort_name:
            row.problems.append(_("Name a course, a cohort or both."))
        if course_name:
            row.course, problem = _course_for(course_name)
            if problem:
                row.problems.append(problem)
        if cohort_name:
            row.cohort, problem = _cohort_for(cohort_name)
            if problem:
                row.problems.append(problem)
        if row.problems:
            continue
        if row.course is not None:
            key = (row.user.pk, row.course.pk)
            row.enrols = (
                key not in planned_enrolments
                and not Enrolment.objects.filter(user=row.user, course=row.course).exists()
            )
            planned_enrolments.add(key)
        if row.cohort is not None:
            key = (row.user.pk, row.cohort.pk)
            row.joins = (
                key not in planned_memberships
                and not row.cohort.members.filter(pk=row.user.pk).exists()
            )
            planned_memberships.add(key)
    return EnrolmentPlan(rows=rows)
