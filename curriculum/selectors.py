"""Reads for the curriculum: courses, neighbours, completion and progress arithmetic."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import prefetch_related_objects
from django.utils.html import strip_tags
from wagtail.models import Locale

from accounts import permissions
from accounts.models import Cohort, Enrolment, Role
from accounts.query_plans import STAND_IN_USER_PK, PlanCache, plan_compile
from assessments.selectors import lesson_ids_quiz_passed, lesson_quiz_ids
from curriculum.models import (
    SYLLABUS_ROLES,
    CompletionOverride,
    CompletionSource,
    CurriculumPage,
    EtcDomain,
    LessonCompletion,
    LessonPage,
    ModulePage,
    OutcomeDomain,
)
from model_builder.selectors import builder_exercise_done
from reader_study.selectors import lesson_participations, participation_counts
from runs.answers import run_answers_complete


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


# The lab families a lesson embeds, by block type: the run model that records a resident's
# work, and what a finished one looks like (labs' own answers are checked apart, below).
# A reader study counts by taking part (reader_study.selectors.participation_counts).
EXERCISE_RUNS = {
    "lab": ("labs.LabRun", {"status": "succeeded"}),
    "cohort_lab": ("evaluation.CohortRun", {"status": "succeeded"}),
    "deid": ("deid_lab.DeidAttempt", {"status": "succeeded"}),
    "reading_room": ("reading_room.SimulationRun", {}),
    # Done when both splits trained and the questions are answered (below).
    "model_builder": ("model_builder.TrainingRun", {"status": "succeeded"}),
}
# Families whose finished run counts only with the exercise's written questions answered on
# it (an exercise that asks none needs none). The model builder's exercise has its own rule
# (model_builder.selectors.builder_exercise_done), the reader study's is
# reader_study.selectors.participation_counts.
ANSWERED_IN_THE_LAB = frozenset({"lab", "cohort_lab", "deid", "reading_room"})
# The rule before a cohort lab's questions had to be answered (a succeeded run was enough):
# curriculum migration 0008 keeps what residents completed under it.
ANSWERED_IN_THE_LAB_BEFORE_COHORT_ANSWERS = frozenset({"lab", "deid", "reading_room"})
# Completions that count whatever the lesson holds. A resident's own "mark complete" counts
# only for a lesson with nothing to do (no lab, no quiz): the rest complete by doing them.
STANDING_SOURCES = (CompletionSource.LAB, CompletionSource.LEGACY, CompletionSource.OVERRIDE)


EXERCISE_BLOCK_TYPES = frozenset({*EXERCISE_RUNS, "reader_study"})


def lesson_exercises(lesson) -> list[tuple[str, object]]:
    """(block type, exercise) of every lab-family block the lesson embeds, in page order.

    Only the lab-family blocks are converted (a StreamField converts the blocks of one type
    together): the lesson's figures, quizzes and viewers are not read for this."""
    body = getattr(lesson.specific, "body", None)
    if not body:
        return []
    exercises = []
    for index, raw in enumerate(body.raw_data):
        if raw["type"] in EXERCISE_BLOCK_TYPES:
            block = body[index]
            if block.value.get("exercise") is not None:
                exercises.append((block.block_type, block.value["exercise"]))
    return exercises


@dataclass(frozen=True)
class LessonWork:
    """What a lesson asks a resident to do: its lab-family exercises and its quizzes."""

    exercises: list[tuple[str, object]]
    quiz_ids: set[int]

    @property
    def exists(self) -> bool:
        return bool(self.exercises) or bool(self.quiz_ids)


def lesson_work(lesson) -> LessonWork:
    return LessonWork(exercises=lesson_exercises(lesson), quiz_ids=lesson_quiz_ids(lesson))


def lessons_work(lessons: Iterable[LessonPage]) -> dict[int, LessonWork]:
    """lesson_work of many lessons, by pk, read from their bodies' stored JSON: one query
    per lab family they embed and one for their quizzes, where converting each lesson's
    blocks cost a query per family per lesson (a course's progress page made 256).

    The same answer as lesson_work: exercises in page order, a block whose exercise or quiz
    was deleted (or never chosen) left out."""
    from assessments.models import Assessment
    from runs.lessons import lesson_chosen_ids

    named: dict[int, list[tuple[str, int]]] = {}
    quizzes: dict[int, set[int]] = {}
    for lesson in lessons:
        named[lesson.pk] = [
            (kind, pk) for kind, pk in lesson_chosen_ids(lesson) if kind in EXERCISE_BLOCK_TYPES
        ]
        quizzes[lesson.pk] = {
            pk for kind, pk in lesson_chosen_ids(lesson, field="assessment") if kind == "quiz"
        }
    child_blocks = LessonPage._meta.get_field("body").stream_block.child_blocks
    found: dict[str, dict[int, object]] = {}
    for block_type in {kind for each in named.values() for kind, _ in each}:
        model = child_blocks[block_type].child_blocks["exercise"].target_model
        ids = {pk for each in named.values() for kind, pk in each if kind == block_type}
        found[block_type] = model.objects.in_bulk(ids)
    quiz_ids = {pk for each in quizzes.values() for pk in each}
    existing_quizzes = (
        set(Assessment.objects.filter(pk__in=quiz_ids).values_list("pk", flat=True))
        if quiz_ids
        else set()
    )
    return {
        pk: LessonWork(
            exercises=[
                (kind, found[kind][chosen]) for kind, chosen in each if chosen in found[kind]
            ],
            quiz_ids=quizzes[pk] & existing_quizzes,
        )
        for pk, each in named.items()
    }


def lesson_has_work(lesson) -> bool:
    """Whether the lesson completes by its labs and quiz rather than by marking it."""
    return lesson_work(lesson).exists


# The first lesson's stand-in a progress plan is compiled from (accounts.query_plans; the
# next ones count up from it): no lesson has such a primary key.
_PLAN_LESSON_PK = 7_340_019_853_400
# Shapes of progress queries kept per process: lab families x numbers of lessons.
_progress_plans = PlanCache(128)


def _progress_rows(*, user, lesson_ids: list[int], families: set[str]) -> list:
    """One query for a user's progress in these lessons: their completion rows and the
    finished work of each lab family in `families` (reader studies included), as rows of
    (kind, lesson id, exercise id, completion source, training split, run answers, reader
    study questions). kind is "completion" or the family's block type; absent columns are
    NULL.

    The query (a union of up to seven shaped parts) took the ORM longer to build than the
    database to answer, on every lesson page's reader parts (issue 18): it is compiled once
    per shape (the families, the number of lessons) and run with the user's and lessons'
    primary keys."""
    shape = (tuple(sorted(families)), len(lesson_ids))
    plan = _progress_plans.get(shape, lambda: _progress_plan_compile(families, len(lesson_ids)))
    values = {f"lesson {index}": pk for index, pk in enumerate(lesson_ids)}
    values["user"] = user.pk
    if plan is not None and plan.takes(values):
        return plan.rows(values)
    return list(_progress_query(user_pk=user.pk, lesson_ids=lesson_ids, families=families))


def _progress_plan_compile(families: set[str], lessons: int):
    stand_ins = {f"lesson {index}": _PLAN_LESSON_PK + index for index in range(lessons)}
    queryset = _progress_query(
        user_pk=STAND_IN_USER_PK, lesson_ids=list(stand_ins.values()), families=families
    )
    compiled = plan_compile(queryset, {**stand_ins, "user": STAND_IN_USER_PK})
    return None if compiled is None else compiled[0]


def _progress_query(*, user_pk: int, lesson_ids: list[int], families: set[str]):
    """The query of _progress_rows, as the ORM builds it (a values_list queryset)."""
    from django.db.models import CharField, F, IntegerField, JSONField, TextField, Value
    from django.db.models.fields.json import KeyTextTransform

    def shaped(queryset, kind, *, exercise=None, source=None, split=None, answers=None, asks=None):
        return (
            queryset.order_by()
            .annotate(
                row_kind=Value(kind, output_field=CharField()),
                row_lesson=F("lesson_id"),
                row_exercise=exercise or Value(None, output_field=IntegerField()),
                row_source=source or Value(None, output_field=CharField()),
                row_split=split or Value(None, output_field=TextField()),
                row_answers=answers or Value(None, output_field=JSONField()),
                row_asks=asks or Value(None, output_field=TextField()),
            )
            .values_list(
                "row_kind",
                "row_lesson",
                "row_exercise",
                "row_source",
                "row_split",
                "row_answers",
                "row_asks",
            )
        )

    parts = [
        shaped(
            LessonCompletion.objects.filter(user_id=user_pk, lesson_id__in=lesson_ids),
            "completion",
            source=F("source"),
        )
    ]
    for block_type, (label, finished) in EXERCISE_RUNS.items():
        if block_type not in families:
            continue
        runs = apps.get_model(label).objects.filter(
            user_id=user_pk, lesson_id__in=lesson_ids, **finished
        )
        answered = block_type in ANSWERED_IN_THE_LAB or block_type == "model_builder"
        split = KeyTextTransform("split", "config") if block_type == "model_builder" else None
        parts.append(
            shaped(
                runs,
                block_type,
                exercise=F("exercise_id"),
                split=split,
                answers=F("answers") if answered else None,
            )
        )
    if "reader_study" in families:
        # Keyed by lesson (taking part in the lesson's study), so the session's own
        # exercise's questions come with it.
        parts.append(
            shaped(
                lesson_participations(user=user_pk, lesson_ids=lesson_ids),
                "reader_study",
                exercise=F("exercise_id"),
                answers=F("answers"),
                asks=F("exercise__questions"),
            )
        )
    first, *others = parts
    return first.union(*others, all=True) if others else first


@dataclass
class _Progress:
    """A user's progress in some lessons, as _progress_read found it."""

    sources: dict[int, str]  # lesson id: completion source
    # (lesson, family, exercise): (training split, answers) per finished run
    runs: dict[tuple[int, str, int], list[tuple[str | None, dict | None]]]
    participated: set[int]  # lessons with a finished reader study, its questions answered
    quiz_passed: set[int]

    def exercise_done(
        self, lesson_id: int, block_type: str, exercise, answered=ANSWERED_IN_THE_LAB
    ) -> bool:
        """A run of the exercise succeeded from this lesson (for the families in `answered`,
        with the exercise's questions answered in it; for the model builder, both splits
        trained and the questions answered); for a reader study, the user took part in the
        lesson."""
        if block_type == "reader_study":
            return lesson_id in self.participated
        finished = self.runs.get((lesson_id, block_type, exercise.pk), [])
        if block_type == "model_builder":
            return builder_exercise_done(runs=finished, prompts=exercise.question_prompts)
        if block_type not in answered:
            return bool(finished)
        prompts = exercise.question_prompts
        return any(run_answers_complete(prompts=prompts, answers=each) for _, each in finished)


def _progress_read(*, user, work: dict[int, LessonWork]) -> _Progress:
    """One query for the completions and the work of every lab family the lessons embed,
    and one for their quizzes where they have any."""
    families = {block_type for each in work.values() for block_type, _ in each.exercises}
    progress = _Progress(sources={}, runs={}, participated=set(), quiz_passed=set())
    if families:
        rows = _progress_rows(user=user, lesson_ids=list(work), families=families)
    else:
        # Completions alone (lessons of prose, or with only a quiz): a plain read, not the
        # union of shaped rows (whose building cost a prose lesson page more than the read).
        rows = ()
        progress.sources = dict(
            LessonCompletion.objects.filter(user=user, lesson_id__in=list(work)).values_list(
                "lesson_id", "source"
            )
        )
    for kind, lesson_id, exercise_id, source, split, answers, asks in rows:
        if kind == "completion":
            progress.sources[lesson_id] = source
        elif kind == "reader_study":
            if participation_counts(questions=asks, answers=answers):
                progress.participated.add(lesson_id)
        else:
            progress.runs.setdefault((lesson_id, kind, exercise_id), []).append((split, answers))
    quiz_lessons = [pk for pk, each in work.items() if each.quiz_ids]
    if quiz_lessons:
        progress.quiz_passed = lesson_ids_quiz_passed(user=user, lesson_ids=quiz_lessons)
    return progress


def _lessons_completed(
    *, user, work: dict[int, LessonWork], answered=ANSWERED_IN_THE_LAB
) -> set[int]:
    """The lessons (of `work`, by pk) this user completed: see lesson_ids_completed.
    `answered`: the lab families whose questions must be answered (an earlier rule's set
    only for the migration that keeps completions made under it)."""
    if not user.is_authenticated or not work:
        return set()
    progress = _progress_read(user=user, work=work)
    completed = set()
    for lesson_id, each in work.items():
        source = progress.sources.get(lesson_id)
        if source in STANDING_SOURCES:
            completed.add(lesson_id)
            continue
        if not each.exists:
            if source == CompletionSource.MANUAL:
                completed.add(lesson_id)
            continue
        labs_ok = all(
            progress.exercise_done(lesson_id, block_type, exercise, answered)
            for block_type, exercise in each.exercises
        )
        if labs_ok and (not each.quiz_ids or lesson_id in progress.quiz_passed):
            completed.add(lesson_id)
    return completed


def lesson_ids_completed(*, user, lesson_ids: Iterable[int] | None = None) -> set[int]:
    """Lessons this user completed.

    A lesson with lab work or a quiz completes when every lab it embeds succeeded with its
    questions answered in the lab (ANSWERED_IN_THE_LAB; a leakage exercise: both splits
    trained and its questions answered), every reader study was taken part in with its
    questions answered, and every quiz was passed, or when an educator completed it for
    them (the platform failed the lab). A lesson with neither completes when the resident
    marks it complete. Completions recorded before this rule (CompletionSource.LEGACY) keep
    counting.
    """
    if not user.is_authenticated:
        return set()
    lessons = LessonPage.objects.all()
    if lesson_ids is not None:
        lessons = lessons.filter(pk__in=list(lesson_ids))
    return _lessons_completed(user=user, work=lessons_work(lessons))


def lesson_is_completed(*, user, lesson: LessonPage, work: LessonWork | None = None) -> bool:
    """Whether this user completed this lesson (the rule of lesson_ids_completed), read from
    the page object given (no second read of the page); `work`: lesson_work(lesson), where
    the caller has it already."""
    work = lesson_work(lesson) if work is None else work
    return lesson.pk in _lessons_completed(user=user, work={lesson.pk: work})


def module_lesson_ids(*, module: ModulePage) -> list[int]:
    return list(
        LessonPage.objects.child_of(module).live().order_by("path").values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class CompletionsRead:
    """Which lessons' completion a caller read for a user, and which of them are complete."""

    lesson_ids: frozenset[int]
    completed_ids: set[int]


def module_is_completed(*, user, module: ModulePage, known: CompletionsRead | None = None) -> bool:
    """Every live lesson of the module is complete (an empty module counts as complete).
    `known`: completions the caller read already, used when they cover the module."""
    lesson_ids = set(module_lesson_ids(module=module))
    if known is not None and lesson_ids <= known.lesson_ids:
        return lesson_ids <= known.completed_ids
    return lesson_ids <= lesson_ids_completed(user=user, lesson_ids=lesson_ids)


def unmet_prerequisites(
    *, user, module: ModulePage, known: CompletionsRead | None = None
) -> list[ModulePage]:
    """Required modules this user has not completed yet, in the order the author listed them.
    `known`: as for module_is_completed (a course's progress passes the course's)."""
    required = [
        prerequisite.required_module
        for prerequisite in module.prerequisites.select_related("required_module")
        if prerequisite.required_module.live
    ]
    return [
        each for each in required if not module_is_completed(user=user, module=each, known=known)
    ]


def course_of(page) -> CurriculumPage | None:
    """The Curriculum page a page belongs to (itself included), or None outside courses."""
    return (
        CurriculumPage.objects.ancestor_of(page, inclusive=True).first() if page.depth > 1 else None
    )


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
        """The lessons' computed durations (reading plus measured lab time)."""
        return sum(lesson.duration.minutes for lesson in self.lessons)


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
    def minutes(self) -> int:
        return sum(each.minutes for each in self.modules)

    @property
    def duration_text(self) -> str:
        return minutes_text(self.minutes)

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
    *,
    user,
    module: ModulePage,
    known: CompletionsRead | None = None,
    lessons: list[LessonPage] | None = None,
) -> ModuleProgress:
    """Progress through one module: lessons, outcomes met, prerequisites still missing.

    A lesson's outcomes are met when the lesson is complete; a module's own outcomes when the
    whole module is. `lessons`: the module's live lessons in order, outcomes prefetched,
    where the caller read them (a course's progress reads all its lessons at once).
    """
    from curriculum.lesson_frame import lesson_duration_shared

    if lessons is None:
        lessons = list(
            LessonPage.objects.child_of(module).live().order_by("path").prefetch_related("outcomes")
        )
    for lesson in lessons:
        lesson.duration = lesson_duration_shared(lesson)
    lesson_ids = {each.pk for each in lessons}
    if known is None or not lesson_ids <= known.lesson_ids:
        known = CompletionsRead(
            frozenset(lesson_ids), lesson_ids_completed(user=user, lesson_ids=lesson_ids)
        )
    completed_ids = known.completed_ids
    progress = ModuleProgress(
        module=module,
        lessons=lessons,
        completed_ids=completed_ids,
        unmet_prerequisites=unmet_prerequisites(user=user, module=module, known=known),
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
    lessons = course_lessons(course=course)
    prefetch_related_objects(lessons, "outcomes")
    # A lesson's module is the page one level up the tree: its path without the last step.
    by_module: dict[str, list[LessonPage]] = {}
    for lesson in lessons:
        by_module.setdefault(lesson.path[: -lesson.steplen], []).append(lesson)
    lesson_ids = [each.pk for each in lessons]
    # lesson_ids_completed's rule for the lessons just read (it would read them again).
    completed_ids = _lessons_completed(user=user, work=lessons_work(lessons))
    known = CompletionsRead(frozenset(lesson_ids), completed_ids)
    rows = [
        module_progress(
            user=user, module=module, known=known, lessons=by_module.get(module.path, [])
        )
        for module in modules
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
    # A translation (curriculum.translation) is found by its words and opened as the page
    # it translates, which is served in the reader's language.
    lessons: list[LessonPage] = []
    for lesson in results:
        if lesson.locale_id != Locale.get_default().pk:
            lesson = lesson.get_translation_or_none(Locale.get_default())
        if lesson is not None and lesson.live and lesson not in lessons:
            lessons.append(lesson)
    return [lesson for lesson in lessons if permissions.may(user, "curriculum.view_page", lesson)][
        :limit
    ]


# --- Durations ------------------------------------------------------------------------------

# Reading speed for technical prose: about 200 words a minute, well below the ~240 of
# general non-fiction (Brysbaert 2019, J Mem Lang 109:104047), because residents stop at
# formulas, tables and figures.
READING_WORDS_PER_MINUTE = 200
# A lab nobody has been timed in yet counts this long, until enough residents are measured.
LAB_MINUTES_DEFAULT = 15
LAB_MEASURED_AFTER = 3  # residents timed before the median replaces the default
# A resident's time in a lab: from their first run to their last activity on it (result,
# answers). Longer spans are a lab left open overnight, not work, and are not counted.
LAB_SESSION_LONGEST = dt.timedelta(hours=2)
TEXT_BLOCKS = ("paragraph", "callout")


def lesson_words(lesson) -> int:
    """Words of the lesson's prose (text and callout blocks), tags stripped."""
    words = 0
    for block in getattr(lesson, "body", None) or []:
        if block.block_type == "paragraph":
            html = str(block.value.source if hasattr(block.value, "source") else block.value)
        elif block.block_type == "callout":
            value = block.value
            text = value.get("text")
            html = " ".join([value.get("title", ""), str(getattr(text, "source", text) or "")])
        else:
            continue
        words += len(strip_tags(html).split())
    return words


@dataclass
class LabTime:
    title: str
    minutes: int
    residents_timed: int

    @property
    def is_measured(self) -> bool:
        return self.residents_timed >= LAB_MEASURED_AFTER


def lab_time(exercise, block_type: str) -> LabTime:
    """The median time residents spent in this lab (from their run records), or the
    default while fewer than LAB_MEASURED_AFTER residents were timed."""
    title = str(exercise)
    if block_type not in EXERCISE_RUNS:
        return LabTime(title, LAB_MINUTES_DEFAULT, 0)
    model = apps.get_model(EXERCISE_RUNS[block_type][0])
    stamps = [
        name
        for name in ("finished_at", "answered_at")
        if any(f.name == name for f in model._meta.get_fields())
    ]
    spans: dict[int, list[dt.datetime]] = {}
    rows = model.objects.filter(exercise=exercise, user__role=Role.RESIDENT).values_list(
        "user_id", "created_at", *stamps
    )
    for user_id, created, *others in rows:
        span = spans.setdefault(user_id, [created, created])
        span[0] = min(span[0], created)
        span[1] = max([span[1], *[each for each in others if each is not None]])
    seconds = [
        (last - first).total_seconds()
        for first, last in spans.values()
        if last - first <= LAB_SESSION_LONGEST
    ]
    if len(seconds) < LAB_MEASURED_AFTER:
        return LabTime(title, LAB_MINUTES_DEFAULT, len(seconds))
    return LabTime(title, max(1, math.ceil(statistics.median(seconds) / 60)), len(seconds))


@dataclass
class LessonDuration:
    words: int
    labs: list[LabTime]

    @property
    def reading_minutes(self) -> int:
        return math.ceil(self.words / READING_WORDS_PER_MINUTE) if self.words else 0

    @property
    def lab_minutes(self) -> int:
        return sum(lab.minutes for lab in self.labs)

    @property
    def minutes(self) -> int:
        return self.reading_minutes + self.lab_minutes


def lesson_duration(lesson) -> LessonDuration:
    """How long the lesson takes: its words at READING_WORDS_PER_MINUTE plus the median
    time residents spent in each of its labs (never a typed-in estimate)."""
    return LessonDuration(
        words=lesson_words(lesson),
        labs=[lab_time(exercise, kind) for kind, exercise in lesson_exercises(lesson)],
    )


def minutes_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


# --- The outcome mapping a programme director reads ---------------------------------------


@dataclass
class MappedOutcome:
    module: str
    lesson: str  # "" for the module's own outcomes
    text: str
    domain: str  # knowledge, skills, competences
    level: str  # ESR level I, II or III
    etc_domain: str  # EtcDomain key, "" while untagged
    etc_domain_label: str
    roles: list[str]


def outcome_mapping(*, course) -> list[MappedOutcome]:
    """Every outcome of the course's live modules and lessons, in reading order, with its
    ESR curriculum topic and AI syllabus roles."""
    rows = []

    def add(outcome, module, lesson=""):
        rows.append(
            MappedOutcome(
                module=module.title,
                lesson=lesson,
                text=outcome.text,
                domain=outcome.domain,
                level=outcome.level,
                etc_domain=outcome.etc_domain,
                etc_domain_label=outcome.get_etc_domain_display() if outcome.etc_domain else "",
                roles=outcome.syllabus_roles,
            )
        )

    for module in ModulePage.objects.child_of(course).live().order_by("path"):
        for outcome in module.outcomes.all():
            add(outcome, module)
        for lesson in LessonPage.objects.child_of(module).live().order_by("path"):
            for outcome in lesson.outcomes.all():
                add(outcome, module, lesson.title)
    return rows


@dataclass
class DomainCoverage:
    key: str
    label: str
    outcomes: int
    modules: list[str]
    levels: dict[str, int]
    roles: dict[str, int]


def mapping_coverage(rows: list[MappedOutcome]) -> list[DomainCoverage]:
    """Per ESR curriculum topic (every topic, covered or not, then the untagged): how many
    outcomes serve it, in which modules, at which levels and for which syllabus roles."""
    coverage = []
    topics = [(d.value, str(d.label)) for d in EtcDomain] + [("", "Not mapped yet")]
    for key, label in topics:
        mine = [row for row in rows if row.etc_domain == key]
        if key == "" and not mine:
            continue
        coverage.append(
            DomainCoverage(
                key=key,
                label=label,
                outcomes=len(mine),
                modules=list(dict.fromkeys(row.module for row in mine)),
                levels={level: sum(r.level == level for r in mine) for level in ("I", "II", "III")},
                roles={role: sum(role in r.roles for r in mine) for role in SYLLABUS_ROLES},
            )
        )
    return coverage


def course_levels(*, course) -> dict[str, int]:
    """How many of the course's outcomes sit at each ESR level (I, II, III)."""
    counts = {"I": 0, "II": 0, "III": 0}
    for row in outcome_mapping(course=course):
        counts[row.level] = counts.get(row.level, 0) + 1
    return counts


def completion_overrides(*, resident, course) -> list:
    """The audit records of lessons educators completed for this resident in the course."""
    return list(
        CompletionOverride.objects.filter(
            resident=resident, lesson__in=LessonPage.objects.descendant_of(course)
        ).select_related("educator", "lesson")
    )


@dataclass
class LabWork:
    """A resident's lab work in a course: labs finished (a lab's questions answered in the
    lab) out of the labs its live lessons embed."""

    done: int
    total: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.done / self.total, 2) if self.total else None


def course_lab_work(*, user, course) -> LabWork:
    lessons = course_lessons(course=course)
    work = {
        lesson.pk: LessonWork(exercises=lesson_exercises(lesson), quiz_ids=set())
        for lesson in lessons
    }
    progress = _progress_read(user=user, work=work)
    total = finished = 0
    for lesson_id, each in work.items():
        for block_type, exercise in each.exercises:
            total += 1
            finished += progress.exercise_done(lesson_id, block_type, exercise)
    return LabWork(done=finished, total=total)
