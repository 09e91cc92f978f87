"""Writes for the curriculum: completion, self-enrolment, the review workflow, the course loader."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import nh3
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils.html import escape
from wagtail.models import GroupApprovalTask, Page, Site, Workflow, WorkflowPage, WorkflowTask

from accounts.models import Enrolment
from accounts.services import enrolment_create
from curriculum.content import (
    CONTENT_DIR,
    EXERCISE_BLOCKS,
    IMAGE_KINDS,
    ContentError,
    CourseSpec,
    LabSpec,
    LessonSpec,
    ModuleSpec,
    QuestionSpec,
    QuizSpec,
    course_read,
    lab_block_title,
    source_fingerprint,
)
from curriculum.models import (
    CompletionOverride,
    CompletionSource,
    CurriculumIndexPage,
    CurriculumPage,
    LessonCompletion,
    LessonLearningOutcome,
    LessonPage,
    LoadedContent,
    ModuleLearningOutcome,
    ModulePage,
    ModulePrerequisite,
)
from curriculum.task_batching import tasks_batched
from labs.models import LabExercise

logger = logging.getLogger(__name__)

DEMO_COURSE_SLUG = "imaging-ai-foundations"
DEMO_MODULE_SLUG = "where-ai-fails"
DEMO_LESSON_SLUG = "when-noise-breaks-a-model"
REVIEW_WORKFLOW_NAME = "Curriculum review"
REVIEW_TASK_NAME = "Lead educator approval"
LEAD_EDUCATORS_GROUP = "Lead educators"
LEAD_EDUCATOR_PAGE_PERMISSIONS = (
    "add_page",
    "change_page",
    "publish_page",
    "lock_page",
    "unlock_page",
)

# What the shipped content may contain: the same elements Wagtail's rich text features allow.
ALLOWED_TAGS = {
    "h2",
    "h3",
    "p",
    "b",
    "i",
    "strong",
    "em",
    "ol",
    "ul",
    "li",
    "a",
    "hr",
    "sub",
    "sup",
    "br",
}


# --- Completion and enrolment ------------------------------------------------------------


def lesson_completion_record(
    *, user, lesson: LessonPage, source: CompletionSource = CompletionSource.MANUAL
) -> LessonCompletion:
    """Record that the user completed the lesson; recording twice keeps the first record.

    Callers check the rule "curriculum.mark_lesson_complete" first (views) or know the
    user earned it (a finished lab run).
    """
    completion, _created = LessonCompletion.objects.get_or_create(
        user=user, lesson=lesson, defaults={"source": source}
    )
    return completion


def lesson_completion_record_from_lab_run(*, run) -> LessonCompletion | None:
    """For the labs app to call when a run succeeds or its questions are answered: records
    the lesson that embeds the lab as complete once everything it asks is done.

    Returns None while something is still due (another lab, the lab's questions, the quiz:
    curriculum.selectors.lesson_ids_completed decides) and for runs not started from a
    lesson (those complete nothing).
    """
    from curriculum.selectors import lesson_is_completed

    if run.lesson_id is None:
        return None
    lesson = LessonPage.objects.filter(pk=run.lesson_id).first()
    if lesson is None or not lesson_is_completed(user=run.user, lesson=lesson):
        return None
    return lesson_completion_record(user=run.user, lesson=lesson, source=CompletionSource.LAB)


@transaction.atomic
def lesson_completion_override(*, educator, resident, lesson: LessonPage, reason: str):
    """An educator completes a lesson for a resident because the platform failed its lab.

    Callers check the rule "curriculum.override_completion" first. The reason is required
    and the override is kept in CompletionOverride, which is never changed or deleted. A
    lesson the resident already completed gets the audit record all the same.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("Say why the platform, not the resident, kept the lesson open.")
    record = CompletionOverride.objects.create(
        educator=educator, resident=resident, lesson=lesson, reason=reason
    )
    completion = LessonCompletion.objects.filter(user=resident, lesson=lesson).first()
    if completion is None:
        LessonCompletion.objects.create(
            user=resident, lesson=lesson, source=CompletionSource.OVERRIDE
        )
    elif completion.source == CompletionSource.MANUAL:
        # A "mark complete" on a lesson with labs no longer counts; the override does.
        completion.source = CompletionSource.OVERRIDE
        completion.save(update_fields=["source"])
    return record


def course_self_enrol(*, user, course: CurriculumPage) -> Enrolment:
    """Enrol a resident who asked to; callers check the rule "curriculum.self_enrol" first."""
    return enrolment_create(user=user, course=course)


# --- Moderation workflow -----------------------------------------------------------------


@transaction.atomic
def review_workflow_ensure(*, page: Page) -> Workflow:
    """Educators submit, a lead educator approves: a Wagtail workflow on the curriculum tree.

    Idempotent. A workflow an admin already assigned to the page is left in place.
    """
    group, _created = Group.objects.get_or_create(name=LEAD_EDUCATORS_GROUP)
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    from wagtail.models import GroupPagePermission

    for codename in LEAD_EDUCATOR_PAGE_PERMISSIONS:
        permission = Permission.objects.get(
            content_type__app_label="wagtailcore", codename=codename
        )
        GroupPagePermission.objects.get_or_create(group=group, page=page, permission=permission)
    task = GroupApprovalTask.objects.filter(name=REVIEW_TASK_NAME).first()
    if task is None:
        task = GroupApprovalTask.objects.create(name=REVIEW_TASK_NAME)
    task.groups.add(group)
    workflow, _created = Workflow.objects.get_or_create(name=REVIEW_WORKFLOW_NAME)
    WorkflowTask.objects.get_or_create(workflow=workflow, task=task, defaults={"sort_order": 0})
    assigned, _created = WorkflowPage.objects.get_or_create(
        page=page, defaults={"workflow": workflow}
    )
    return assigned.workflow


# --- The course loader -------------------------------------------------------------------


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_edits: list[str] = field(default_factory=list)

    def note(self, outcome: str, label: str) -> None:
        getattr(self, outcome).append(label)


def _without_block_ids(value):
    """Stream data without the per-block UUIDs, which differ between equal contents."""
    if isinstance(value, list):
        return [_without_block_ids(each) for each in value]
    if isinstance(value, dict):
        return {key: _without_block_ids(each) for key, each in value.items() if key != "id"}
    return value


def page_fingerprint(page: Page) -> str:
    """A hash of what an educator can edit on a curriculum page (fields, outcomes, body)."""
    state: dict = {"title": page.title, "slug": page.slug}
    for name in ("summary", "introduction", "estimated_minutes", "self_enrolment_allowed"):
        if hasattr(page, name):
            state[name] = getattr(page, name)
    if isinstance(page, LessonPage):
        raw = LessonPage._meta.get_field("body").get_prep_value(page.body)
        state["body"] = _without_block_ids(json.loads(json.dumps(raw, default=str)))
    if hasattr(page, "outcomes"):
        # The mapping tags count only once set, so that pages loaded before outcomes carried
        # them keep their fingerprint and take the tags on the next load.
        state["outcomes"] = [
            (o.text, o.domain, o.level)
            + ((o.etc_domain, *o.syllabus_roles) if o.etc_domain else ())
            for o in page.outcomes.all()
        ]
    if isinstance(page, ModulePage):
        state["prerequisites"] = sorted(p.required_module_id for p in page.prerequisites.all())
    return source_fingerprint(state)


def _html_clean(html: str) -> str:
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href"}}).strip()


def _page_write(
    *, parent: Page, page_class, spec_path: Path, slug: str, fields: dict, report: LoadReport
) -> Page:
    """Create or update one page from the content files, never over an educator's edit.

    `fields` may carry `outcomes` (list of dicts) and `prerequisites` (module pages) besides
    model fields. Only pages the loader made are updated, and only if nobody changed them
    since: their fingerprint still equals the one stored when the loader last wrote them.
    """
    label = str(spec_path.relative_to(spec_path.parents[1]))
    written_from = source_fingerprint(
        {**fields, "prerequisites": [m.pk for m in fields.get("prerequisites") or []]}
    )
    outcomes = fields.pop("outcomes", None)
    prerequisites = fields.pop("prerequisites", None)
    existing = parent.get_children().filter(slug=slug).first()
    record = None
    if existing is not None:
        page = existing.specific
        record = LoadedContent.objects.filter(page=page).first()
        current = page_fingerprint(page)
        if record is None or page.has_unpublished_changes or current != record.written_fingerprint:
            report.note("kept_edits", label)
            return page
    else:
        page = page_class(slug=slug)
    for name, value in fields.items():
        setattr(page, name, value)
    outcome_class = {LessonPage: LessonLearningOutcome, ModulePage: ModuleLearningOutcome}.get(
        page_class
    )
    if outcomes is not None and outcome_class is not None:
        page.outcomes = [outcome_class(sort_order=i, **o) for i, o in enumerate(outcomes)]
    if prerequisites is not None:
        page.prerequisites = [
            ModulePrerequisite(sort_order=i, required_module=m) for i, m in enumerate(prerequisites)
        ]
    if existing is not None:
        if page_fingerprint(page) == current:
            report.note("unchanged", label)
            return page
        page.save_revision().publish()
        report.note("updated", label)
    else:
        parent.add_child(instance=page)
        page.save_revision().publish()
        report.note("created", label)
    page = page_class.objects.get(pk=page.pk)
    LoadedContent.objects.update_or_create(
        page=page,
        defaults={
            "source_path": label,
            "source_fingerprint": written_from,
            "written_fingerprint": page_fingerprint(page),
        },
    )
    return page


def _lab_exercise_ensure(lab: LabSpec) -> LabExercise:
    """The exercise with this title; made from the content only if missing (never overwritten)."""
    offers = [
        {"type": "perturbation", "value": {"severity_min": None, **offer}} for offer in lab.offers()
    ]
    exercise, _created = LabExercise.objects.get_or_create(
        title=lab.title,
        defaults={
            "kind": lab.kind,
            "instructions": _html_clean(lab.instructions),
            "model_key": lab.model_key,
            "study_key": lab.study_key,
            "slice_default": lab.slice_default,
            "perturbation_key": lab.perturbation_key,
            "perturbations": offers,
            "explainer_keys": list(lab.explainer_keys),
            "questions": [{"type": "question", "value": text} for text in lab.questions],
        },
    )
    return exercise


def _citation_raw(citation: dict) -> dict:
    return {
        "authors": citation["authors"],
        "title": citation["title"],
        "source": citation["source"],
        "year": int(citation["year"]),
        "doi": citation.get("doi", ""),
        "url": citation.get("url", ""),
    }


def _course_sees_study(*, course: Page, study_key: str) -> None:
    from studies.models import Study
    from studies.services import study_course_add

    for study in Study.objects.filter(key=study_key):
        study_course_add(study=study, course=course)


def _viewer_block_raw(block: dict, *, lesson: LessonSpec) -> dict | None:
    """A viewer block naming a library study by key and its series by number.

    The series UIDs come from the study index, so the library must be loaded first
    (`make run` does: library_load, then demo_setup). Without it the block is left out
    with a warning, and a later load adds it.
    """
    from studies.models import Series

    def series_uid(number: int) -> str | None:
        series = Series.objects.filter(study__key=block["study"], series_number=number).first()
        return series.series_instance_uid if series else None

    image_uid = series_uid(int(block["series_number"]))
    if image_uid is None:
        logger.warning(
            "%s: study %r is not in the library index; run `manage.py library_load` and "
            "load the course again to add its viewer.",
            lesson.path,
            block["study"],
        )
        return None
    overlays = [series_uid(int(n)) for n in block.get("overlay_series_numbers", [])]
    return {
        "series": image_uid,
        "initial_slice": block.get("initial_slice"),
        "window_preset": block.get("window_preset", ""),
        "overlays": [uid for uid in overlays if uid],
        "caption": block.get("caption", ""),
    }


def _image_question_data(question: QuestionSpec, *, path: Path) -> dict | None:
    """An image question's data with the library's UIDs for its study, series and segment;
    None (with a warning) while the study is not in the library index, like viewer blocks."""
    from assessments.ground_truth import segment_labels, segment_largest_slice
    from studies.models import Series

    image = question.image
    series = {
        s.series_number: s
        for s in Series.objects.filter(
            study__key=image["study"],
            series_number__in=[image["series_number"], image["seg_series_number"]],
        ).select_related("study")
    }
    shown, seg = series.get(image["series_number"]), series.get(image["seg_series_number"])
    if shown is None or seg is None:
        logger.warning(
            "%s: question %r: study %r is not in the library index; run `manage.py "
            "library_load` and load the course again to add it.",
            path,
            question.title,
            image["study"],
        )
        return None
    numbers = {label: number for number, label in segment_labels(seg.series_instance_uid)}
    if image["segment"] not in numbers:
        raise ContentError(
            f"{path}: question {question.title!r}: {image['study']} series "
            f"{image['seg_series_number']} has no segment {image['segment']!r} "
            f"(it has {', '.join(sorted(numbers))})"
        )
    placing = {"study", "series_number", "seg_series_number", "segment", "initial_slice"}
    scoring = {key: value for key, value in image.items() if key not in placing}
    data = {
        "study_uid": shown.study.study_instance_uid,
        "series_uid": shown.series_instance_uid,
        "seg_series_uid": seg.series_instance_uid,
        "segment_number": numbers[image["segment"]],
        **scoring,
    }
    initial = image["initial_slice"]
    data["initial_slice"] = segment_largest_slice(data) if initial == "largest" else initial
    return data


def _quiz_question_data(question: QuestionSpec) -> dict:
    if question.kind in {"single_choice", "multiple_choice"}:
        return {
            "options": [
                {"text": o["text"], "correct": bool(o.get("correct"))} for o in question.options
            ]
        }
    if question.kind == "numeric":
        return {"answer": question.answer, "tolerance": question.tolerance, "unit": question.unit}
    return {"accepted": question.accepted}


def _quiz_ensure(spec: QuizSpec, *, module: ModulePage, course: Page):
    """The module's quiz and its questions; made from the content only if missing.

    Like lab exercises, a quiz that exists is never rewritten: educators refine questions
    in the admin, and a resident's attempts must keep pointing at the paper they answered.
    """
    from assessments.models import Assessment, AssessmentKind
    from assessments.services import assessment_ensure, question_ensure

    existing = Assessment.objects.filter(title=spec.title).first()
    if existing is not None and (
        existing.attempts.exists() or _quiz_holds_every_question(existing, spec)
    ):
        return existing
    # A quiz nobody has attempted may still lack the image questions that the library was
    # not built for at its first load: it is completed here, never rewritten.
    questions = []
    for question in spec.questions:
        if question.kind in IMAGE_KINDS:
            data = _image_question_data(question, path=spec.path)
            if data is None:
                continue
            # Residents answer on the study, so the course must see it (as for viewers).
            _course_sees_study(course=course, study_key=question.image["study"])
        else:
            data = _quiz_question_data(question)
        held = existing.items.filter(question__title=question.title).first() if existing else None
        if held is not None:
            questions.append(held.question)
            continue
        questions.append(
            question_ensure(
                title=question.title,
                kind=question.kind,
                prompt=f"<p>{escape(question.prompt)}</p>",
                data=data,
                explanation=f"<p>{escape(question.explanation)}</p>",
                module=module,
                outcome=question.outcome_text,
                difficulty=question.difficulty,
            )
        )
    if existing is not None:
        return assessment_ensure(
            title=existing.title, kind=existing.kind, course=existing.course, questions=questions
        )
    return assessment_ensure(
        title=spec.title,
        kind=AssessmentKind.QUIZ,
        course=course,
        questions=questions,
        pass_percent=spec.pass_percent,
        max_attempts=None,  # formative: residents may retake it as often as they like
        # Each attempt draws its own option order (kept on the attempt, so the review and
        # the marking show the order the resident saw): a retake cannot be passed by
        # remembering "the second one".
        shuffle_options=True,
    )


def _quiz_holds_every_question(quiz, spec: QuizSpec) -> bool:
    titles = set(
        quiz.items.filter(question__isnull=False).values_list("question__title", flat=True)
    )
    return {question.title for question in spec.questions} <= titles


def _authored_exercise_ensure(block_type: str, fields: dict, *, path: Path):
    """The exercise snippet a lesson file defines inline; made only if missing (like lab
    exercises, an exercise an educator has since refined is never overwritten)."""
    from django.apps import apps
    from django.core.exceptions import ValidationError

    model = apps.get_model(EXERCISE_BLOCKS[block_type])
    existing = model.objects.filter(title=fields["title"]).first()
    if existing is not None:
        return existing
    values = dict(fields)
    if "instructions" in values:
        values["instructions"] = _html_clean(values["instructions"])
    exercise = model(**values)
    try:
        exercise.full_clean()
    except ValidationError as error:
        raise ContentError(f"{path}: exercise {fields['title']!r}: {error.message_dict}") from error
    exercise.save()
    return exercise


def _lesson_body_raw(
    lesson: LessonSpec, exercises: dict[str, LabExercise], quiz=None
) -> list[dict]:
    """The lesson's blocks in StreamField's stored (raw) form; the module's quiz, when this
    lesson shows it, goes before the references (or at the end)."""
    body = []
    for block in lesson.body:
        kind = block["type"]
        if kind == "text":
            body.append({"type": "paragraph", "value": _html_clean(block["html"])})
        elif kind == "callout":
            value = {
                "kind": block["kind"],
                "title": block.get("title", ""),
                "text": _html_clean(block["html"]),
            }
            body.append({"type": "callout", "value": value})
        elif kind == "lab":
            exercise = exercises[lab_block_title(block)]
            value = {"exercise": exercise.pk, "introduction": block.get("introduction", "")}
            body.append({"type": "lab", "value": value})
        elif kind == "viewer":
            viewer = _viewer_block_raw(block, lesson=lesson)
            if viewer is not None:
                body.append({"type": "viewer", "value": viewer})
        elif kind in EXERCISE_BLOCKS:
            exercise = _authored_exercise_ensure(kind, block["exercise"], path=lesson.path)
            value = {"exercise": exercise.pk, "introduction": block.get("introduction", "")}
            body.append({"type": kind, "value": value})
        elif kind == "references":
            value = {
                "heading": block.get("heading", "References"),
                "citations": [_citation_raw(c) for c in block["citations"]],
            }
            body.append({"type": "references", "value": value})
        else:
            raise ValueError(f"{lesson.path}: {kind} blocks need files; add them in the admin.")
    if quiz is not None:
        quiz_block = {"type": "quiz", "value": {"assessment": quiz.pk, "introduction": ""}}
        kinds = [block["type"] for block in body]
        position = kinds.index("references") if "references" in kinds else len(body)
        body.insert(position, quiz_block)
    return body


def curriculum_index_ensure() -> CurriculumIndexPage:
    """The one index page, made the default site's root (replacing Wagtail's 'Welcome')."""
    root = Page.get_first_root_node()
    index = CurriculumIndexPage.objects.first()
    if index is None:
        index = CurriculumIndexPage(
            slug="courses",
            title="Imaging informatics for radiologists",
            introduction=(
                "<p>Learn where imaging AI fails by making it fail: real models, real "
                "studies, and the physics of every way they break.</p>"
            ),
        )
        root.add_child(instance=index)
        index.save_revision().publish()
    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        Site.objects.create(hostname="localhost", port=80, root_page=index, is_default_site=True)
    elif site.root_page_id != index.pk:
        site.root_page = index
        site.save()
    # Wagtail's migration creates a placeholder "Welcome" page; it is not part of our tree.
    root.get_children().exclude(pk=index.pk).filter(depth=2, slug="home").delete()
    return index


def curriculum_content_load(
    *, content_dir: Path = CONTENT_DIR, only_lessons: set[str] | None = None
) -> tuple[CurriculumPage, LoadReport]:
    """Load the course in `content_dir` into Wagtail; idempotent and edit-preserving.

    `only_lessons` ("module-slug/lesson-slug") restricts the load to those lessons and their
    module and course pages (the demo set-up and fast tests use it). Prerequisites pointing
    at modules not loaded are left out until a full load. One transaction; Wagtail's search
    and reference indexes are updated once per page at the end, not after every save.
    """
    with transaction.atomic(), tasks_batched():
        return _course_write(content_dir=content_dir, only_lessons=only_lessons)


def _course_write(
    *, content_dir: Path, only_lessons: set[str] | None
) -> tuple[CurriculumPage, LoadReport]:
    spec: CourseSpec = course_read(content_dir)
    report = LoadReport()
    index = curriculum_index_ensure()
    review_workflow_ensure(page=index)
    course = _page_write(
        parent=index,
        page_class=CurriculumPage,
        spec_path=spec.path,
        slug=spec.slug,
        fields={
            "title": spec.title,
            "summary": spec.summary,
            "introduction": _html_clean(spec.introduction),
            "self_enrolment_allowed": spec.self_enrolment_allowed,
        },
        report=report,
    )
    modules_by_slug: dict[str, ModulePage] = {}
    for module_spec in spec.modules:
        lessons = [
            lesson
            for lesson in module_spec.lessons
            if only_lessons is None or f"{module_spec.slug}/{lesson.slug}" in only_lessons
        ]
        if not lessons:
            continue
        module = _module_write(
            course=course, spec=module_spec, modules_by_slug=modules_by_slug, report=report
        )
        modules_by_slug[module_spec.slug] = module
        exercises = {}
        if module_spec.lab is not None:
            exercises[module_spec.lab.title] = _lab_exercise_ensure(module_spec.lab)
        quiz = None
        if module_spec.quiz is not None and any(
            lesson.slug == module_spec.quiz.lesson_slug for lesson in lessons
        ):
            quiz = _quiz_ensure(module_spec.quiz, module=module, course=course)
        for lesson in lessons:
            for block in lesson.body:
                if block["type"] == "lab" and isinstance(block["exercise"], dict):
                    lab = LabSpec(**block["exercise"])
                    exercises[lab.title] = _lab_exercise_ensure(lab)
                    if lab.kind == "prompt":
                        # The resident draws the prompt on the study in the lesson's viewer.
                        _course_sees_study(course=course, study_key=lab.study_key)
                elif block["type"] == "lab" and block["exercise"] not in exercises:
                    exercises[block["exercise"]] = LabExercise.objects.get(title=block["exercise"])
                if block["type"] == "viewer":
                    # A study a lesson shows must be visible to the course's residents.
                    _course_sees_study(course=course, study_key=block["study"])
            _page_write(
                parent=module,
                page_class=LessonPage,
                spec_path=lesson.path,
                slug=lesson.slug,
                fields={
                    "title": lesson.title,
                    "summary": lesson.summary,
                    "body": _lesson_body_raw(
                        lesson,
                        exercises,
                        quiz=quiz if quiz and lesson.slug == module_spec.quiz.lesson_slug else None,
                    ),
                    "outcomes": lesson.outcomes,
                },
                report=report,
            )
        _reading_order_ensure(
            [
                LessonPage.objects.child_of(module).filter(slug=lesson.slug).first()
                for lesson in lessons
            ]
        )
    _reading_order_ensure(
        [modules_by_slug[m.slug] for m in spec.modules if m.slug in modules_by_slug]
    )
    if report.kept_edits:
        logger.info("curriculum_load kept educators' edits in: %s", ", ".join(report.kept_edits))
    return course, report


def _reading_order_ensure(pages: list) -> None:
    """Put sibling pages in the content's order (the numeric prefixes of content/).

    Pages are created in the order they are first loaded, and the demo set-up loads one
    module of the middle of the course first; without this its module would open the
    course. Only pages out of order move, each to the right of the one before it, so pages
    an educator added between them stay where they are.
    """
    pages = [page for page in pages if page is not None]
    for index, page in enumerate(pages):
        page.refresh_from_db()
        if index == 0:
            others = [Page.objects.get(pk=p.pk) for p in pages[1:]]
            earlier = [p for p in others if p.path < page.path]
            if earlier:
                page.move(min(earlier, key=lambda p: p.path), pos="left")
            continue
        previous = Page.objects.get(pk=pages[index - 1].pk)
        if page.path < previous.path:
            page.move(previous, pos="right")


def _module_write(
    *, course: Page, spec: ModuleSpec, modules_by_slug: dict[str, ModulePage], report: LoadReport
) -> ModulePage:
    existing_modules = {
        page.slug: page for page in ModulePage.objects.child_of(course)
    } | modules_by_slug
    prerequisites = [existing_modules[s] for s in spec.prerequisites if s in existing_modules]
    return _page_write(
        parent=course,
        page_class=ModulePage,
        spec_path=spec.path,
        slug=spec.slug,
        fields={
            "title": spec.title,
            "summary": spec.summary,
            "outcomes": spec.outcomes,
            "prerequisites": prerequisites,
        },
        report=report,
    )


def demo_course_ensure() -> LessonPage:
    """The demo lesson (a break-it lab on CT noise) with its module and course; idempotent.

    Loads one lesson of the shipped course so that tests and the demo stay fast; the
    `curriculum_load` command loads the rest.
    """
    course, _report = curriculum_content_load(
        only_lessons={f"{DEMO_MODULE_SLUG}/{DEMO_LESSON_SLUG}"}
    )
    module = ModulePage.objects.child_of(course).get(slug=DEMO_MODULE_SLUG)
    return LessonPage.objects.child_of(module).get(slug=DEMO_LESSON_SLUG)
