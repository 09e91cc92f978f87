"""Reads for the curriculum: courses, neighbours, completion and progress arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import BooleanField, Value

from accounts import permissions
from accounts.models import Cohort, Enrolment
from assessments.selectors import lesson_ids_quiz_passed, lesson_quiz_ids
from curriculum.models import (
    CurriculumPage,
    LessonCompletion,
    LessonPage,
    ModulePage,
    OutcomeDomain,
)
from labs.selectors import lesson_lab_exercise_ids
from reader_study.selectors import lesson_participations


def courses_for_user(*, user, index) -> list[CurriculumPage]:
    """Live courses under the index, each marked with whether this user may open it."""
    courses = list(CurriculumPage.objects.child_of(index).live().specific().order_by("path"))
    for course in courses:
        course.user_may_open = permissions.may(user, "curriculum.view_page", course)
        course.user_may_self_enrol = permissions.may(user, "curriculum.self_enrol", course)
    return courses


def course_lessons(*, course) -> list[LessonPage]:
    """Live lessons of a course in reading order (tree order: module by module)."""
    return list(LessonPage.objects.descendant_of(course).live().order_by("path"))


def lesson_neighbours(*, lesson: LessonPage) -> tuple[LessonPage | None, LessonPage | None]:
    """The lessons before and after this one in the course, crossing module boundaries."""
    course = course_of(lesson)
    if course is None:
        return None, None
    siblings = LessonPage.objects.descendant_of(course).live()
    previous = siblings.filter(path__lt=lesson.path).order_by("-path").first()
    following = siblings.filter(path__gt=lesson.path).order_by("path").first()
    return previous, following


def lesson_ids_completed(*, user, lesson_ids: Iterable[int] | None = None) -> set[int]:
    """Lessons this user completed: marked complete, or whose lab they ran to success and
    whose quiz they passed (a lesson with both needs both).

    A succeeded LabRun counts even before `curriculum.services.lesson_completion_record` was
    called for it, so completion by lab needs no cooperation from the labs app.
    """
    if not user.is_authenticated:
        return set()
    from labs.models import LabRun, LabRunStatus

    completions = LessonCompletion.objects.filter(user=user)
    runs = LabRun.objects.filter(user=user, status=LabRunStatus.SUCCEEDED, lesson__isnull=False)
    if lesson_ids is not None:
        lesson_ids = list(lesson_ids)
        completions = completions.filter(lesson_id__in=lesson_ids)
        runs = runs.filter(lesson_id__in=lesson_ids)
    # Automatic completion: every lab embedded succeeded and every quiz embedded was passed.
    # Finishing a reader study counts like a lab that succeeded: taking part is what counts.
    # Marked, lab and reader-study rows come back in one query (every lesson page asks).
    sessions = lesson_participations(user=user, lesson_ids=lesson_ids)
    rows = (
        _lesson_ids_flagged(completions, marked=True)
        .union(_lesson_ids_flagged(runs, marked=False), all=True)
        .union(_lesson_ids_flagged(sessions, marked=False), all=True)
    )
    marked_ids, lab_succeeded_ids = set(), set()
    for lesson_id, marked in rows:
        (marked_ids if marked else lab_succeeded_ids).add(lesson_id)
    automatic = _lesson_ids_completed_automatically(
        user=user, lab_succeeded_ids=lab_succeeded_ids, lesson_ids=lesson_ids
    )
    return marked_ids | automatic


def _lesson_ids_flagged(queryset, *, marked: bool):
    """(lesson_id, marked) rows of `queryset`, unordered, for a UNION."""
    return (
        queryset.order_by()
        .annotate(marked=Value(marked, output_field=BooleanField()))
        .values_list("lesson_id", "marked")
    )


def _lesson_ids_completed_automatically(
    *, user, lab_succeeded_ids: set[int], lesson_ids: Iterable[int] | None = None
) -> set[int]:
    """Lessons complete by themselves: every lab they embed succeeded and every quiz they
    embed was passed (a lesson with neither completes only by hand)."""
    quiz_passed = lesson_ids_quiz_passed(user=user, lesson_ids=lesson_ids)
    candidates = lab_succeeded_ids | quiz_passed
    completed = set()
    for lesson in LessonPage.objects.filter(pk__in=candidates):
        lab_ok = not lesson_lab_exercise_ids(lesson) or lesson.pk in lab_succeeded_ids
        quiz_ok = not lesson_quiz_ids(lesson) or lesson.pk in quiz_passed
        if lab_ok and quiz_ok:
            completed.add(lesson.pk)
    return completed


def lesson_is_completed(*, user, lesson: LessonPage) -> bool:
    return lesson.pk in lesson_ids_completed(user=user, lesson_ids=[lesson.pk])


def module_lesson_ids(*, module: ModulePage) -> list[int]:
    return list(
        LessonPage.objects.child_of(module).live().order_by("path").values_list("pk", flat=True)
    )


def module_is_completed(*, user, module: ModulePage) -> bool:
    """Every live lesson of the module is complete (an empty module counts as complete)."""
    lesson_ids = module_lesson_ids(module=module)
    return set(lesson_ids) <= lesson_ids_completed(user=user, lesson_ids=lesson_ids)


def unmet_prerequisites(*, user, module: ModulePage) -> list[ModulePage]:
    """Required modules this user has not completed yet, in the order the author listed them."""
    required = [
        prerequisite.required_module
        for prerequisite in module.prerequisites.select_related("required_module")
        if prerequisite.required_module.live
    ]
    return [each for each in required if not module_is_completed(user=user, module=each)]


def course_of(page) -> CurriculumPage | None:
    """The Curriculum page a page belongs to (itself included), or None outside courses.

    Remembered on the page object: a lesson request asks it from several access rules, and
    a page's place in the tree does not change while one request holds it.
    """
    if "_course_of" not in page.__dict__:
        page.__dict__["_course_of"] = (
            CurriculumPage.objects.ancestor_of(page, inclusive=True).first()
            if page.depth > 1
            else None
        )
    return page.__dict__["_course_of"]


@dataclass
class OutcomeProgress:
    text: str
    domain: str
    domain_label: str
    level: str
    is_met: bool


@dataclass
class ModuleProgress:
    module: ModulePage
    lessons: list[LessonPage]
    completed_ids: set[int]
    unmet_prerequisites: list[ModulePage]
    outcomes: list[OutcomeProgress] = field(default_factory=list)

    @property
    def lessons_total(self) -> int:
        return len(self.lessons)

    @property
    def lessons_completed(self) -> int:
        return sum(1 for lesson in self.lessons if lesson.pk in self.completed_ids)

    @property
    def percent(self) -> int:
        return percent_of(self.lessons_completed, self.lessons_total)

    @property
    def is_completed(self) -> bool:
        return self.lessons_completed == self.lessons_total

    @property
    def is_open(self) -> bool:
        return not self.unmet_prerequisites

    @property
    def minutes(self) -> int:
        if self.module.estimated_minutes is not None:
            return self.module.estimated_minutes
        return sum(lesson.estimated_minutes for lesson in self.lessons)


@dataclass
class CourseProgress:
    course: CurriculumPage
    modules: list[ModuleProgress]
    next_lesson: LessonPage | None

    @property
    def lessons_total(self) -> int:
        return sum(each.lessons_total for each in self.modules)

    @property
    def lessons_completed(self) -> int:
        return sum(each.lessons_completed for each in self.modules)

    @property
    def percent(self) -> int:
        return percent_of(self.lessons_completed, self.lessons_total)

    @property
    def has_started(self) -> bool:
        return self.lessons_completed > 0

    def outcomes_by_domain(self) -> list[tuple[str, int, int]]:
        """(domain label, outcomes met, outcomes stated) over every lesson and module."""
        rows = []
        for domain in OutcomeDomain:
            outcomes = [
                outcome
                for module in self.modules
                for outcome in module.outcomes
                if outcome.domain == domain.value
            ]
            if outcomes:
                met = sum(1 for outcome in outcomes if outcome.is_met)
                rows.append((str(domain.label), met, len(outcomes)))
        return rows


def percent_of(part: int, whole: int) -> int:
    """Whole percent, rounded down so that 100 % means everything is done."""
    return (100 * part) // whole if whole else 0


def module_progress(
    *, user, module: ModulePage, completed_ids: set[int] | None = None
) -> ModuleProgress:
    """Progress through one module: lessons, outcomes met, prerequisites still missing.

    A lesson's outcomes are met when the lesson is complete; a module's own outcomes when the
    whole module is.
    """
    lessons = list(LessonPage.objects.child_of(module).live().order_by("path"))
    if completed_ids is None:
        completed_ids = lesson_ids_completed(user=user, lesson_ids=[each.pk for each in lessons])
    progress = ModuleProgress(
        module=module,
        lessons=lessons,
        completed_ids=completed_ids,
        unmet_prerequisites=unmet_prerequisites(user=user, module=module),
    )
    module_met = progress.is_completed and bool(lessons)
    progress.outcomes = [
        OutcomeProgress(o.text, o.domain, o.get_domain_display(), o.level, module_met)
        for o in module.outcomes.all()
    ]
    for lesson in lessons:
        progress.outcomes += [
            OutcomeProgress(
                o.text, o.domain, o.get_domain_display(), o.level, lesson.pk in completed_ids
            )
            for o in lesson.outcomes.all()
        ]
    return progress


def course_progress(*, user, course: CurriculumPage) -> CourseProgress:
    """Per-module progress for one user and the lesson to continue with.

    "Continue where you left off" is the first lesson, in reading order, that the user has
    not completed and whose module is open to them.
    """
    modules = list(ModulePage.objects.child_of(course).live().order_by("path"))
    lesson_ids = [each.pk for each in course_lessons(course=course)]
    completed_ids = lesson_ids_completed(user=user, lesson_ids=lesson_ids)
    rows = [
        module_progress(user=user, module=module, completed_ids=completed_ids) for module in modules
    ]
    next_lesson = next(
        (
            lesson
            for row in rows
            if row.is_open
            for lesson in row.lessons
            if lesson.pk not in completed_ids
        ),
        None,
    )
    return CourseProgress(course=course, modules=rows, next_lesson=next_lesson)


def courses_enrolled(*, user) -> list[CurriculumPage]:
    """Live courses the user is enrolled in, directly or through a cohort."""
    if not user.is_authenticated:
        return []
    direct = Enrolment.objects.filter(user=user).values_list("course_id", flat=True)
    by_cohort = Cohort.objects.filter(members=user).values_list("courses", flat=True)
    ids = set(direct) | {pk for pk in by_cohort if pk is not None}
    return list(CurriculumPage.objects.live().filter(pk__in=ids).order_by("path"))


@dataclass
class LearnerRow:
    user: object
    cohorts: list[str]
    lessons_completed: int
    lessons_total: int
    modules_completed: int

    @property
    def percent(self) -> int:
        return percent_of(self.lessons_completed, self.lessons_total)


def course_learners_progress(
    *, course: CurriculumPage, cohort: Cohort | None = None
) -> list[LearnerRow]:
    """One row per resident enrolled in the course (optionally: in one cohort)."""
    from accounts.models import Role, User

    if cohort is not None:
        learners = cohort.members.all()
    else:
        learners = User.objects.filter(enrolments__course=course) | User.objects.filter(
            cohorts__courses=course
        )
    learners = learners.filter(role=Role.RESIDENT, is_active=True).distinct().order_by("username")
    modules = list(ModulePage.objects.child_of(course).live().order_by("path"))
    lessons_by_module = {module.pk: module_lesson_ids(module=module) for module in modules}
    all_lessons = [pk for ids in lessons_by_module.values() for pk in ids]
    rows = []
    for learner in learners.prefetch_related("cohorts"):
        done = lesson_ids_completed(user=learner, lesson_ids=all_lessons)
        rows.append(
            LearnerRow(
                user=learner,
                cohorts=[each.name for each in learner.cohorts.all()],
                lessons_completed=len(done),
                lessons_total=len(all_lessons),
                modules_completed=sum(1 for ids in lessons_by_module.values() if set(ids) <= done),
            )
        )
    return rows


def course_cohorts(*, course: CurriculumPage) -> list[Cohort]:
    return list(Cohort.objects.filter(courses=course).order_by("name"))


def lessons_search(*, user, query: str, limit: int = 30) -> list[LessonPage]:
    """Live lessons matching the query (Wagtail search) that this user may open."""
    query = query.strip()
    if not query:
        return []
    results = LessonPage.objects.live().search(query)[: limit * 3]
    return [lesson for lesson in results if permissions.may(user, "curriculum.view_page", lesson)][
        :limit
    ]
