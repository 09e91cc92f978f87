"""The curriculum as a Wagtail page tree: index > curriculum (a course) > module > lesson.

Learning outcomes follow the European Training Curriculum for Radiology (ESR): each states a
domain (knowledge, skills, competences) and a level (I and II: residency; III: subspecialty).
"""

from django.conf import settings
from django.db import models
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel, PageChooserPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Orderable, Page, PageViewRestriction
from wagtail.search import index
from wagtail.url_routing import RouteResult

from curriculum.blocks import LessonBodyBlock


class OutcomeDomain(models.TextChoices):
    KNOWLEDGE = "knowledge", _("Knowledge")
    SKILLS = "skills", _("Skills")
    COMPETENCES = "competences", _("Competences")


class OutcomeLevel(models.TextChoices):
    LEVEL_I = "I", _("Level I (residency, years 1–3)")
    LEVEL_II = "II", _("Level II (residency, years 4–5)")
    LEVEL_III = "III", _("Level III (subspecialty)")


class EtcDomain(models.TextChoices):
    """The imaging-informatics topics of the ESR European Training Curriculum that this
    platform maps outcomes to. The grouping is ours, made from the curriculum's imaging
    informatics and AI content; a programme director checks it against the edition they
    certify by (the mapping page says so)."""

    STANDARDS = "standards", _("Standards and interoperability (DICOM, HL7/FHIR, IHE)")
    SYSTEMS = "systems", _("Imaging information systems and workflow (PACS, RIS, reporting)")
    DATA_PROTECTION = "data-protection", _("Data protection, de-identification and security")
    AI_PRINCIPLES = "ai-principles", _("Principles of AI and machine learning")
    AI_LIMITATIONS = "ai-limitations", _("Limitations and failure modes of AI")
    AI_EVALUATION = "ai-evaluation", _("Evaluation and validation of AI")
    AI_GOVERNANCE = "ai-governance", _("Regulation, ethics and implementation of AI")
    AI_DEVELOPMENT = "ai-development", _("Data curation and AI development")


# The four roles of the AAPM/ACR/RSNA/SIIM AI syllabus ("Teaching AI for radiology
# applications: a multisociety-recommended syllabus"), in its order; one boolean field
# `role_<name>` per role on every outcome.
SYLLABUS_ROLES = ("user", "purchaser", "clinical_collaborator", "developer")
SYLLABUS_ROLE_LABELS = {
    "user": _("User"),
    "purchaser": _("Purchaser"),
    "clinical_collaborator": _("Clinical collaborator"),
    "developer": _("Developer"),
}


class LearningOutcome(Orderable):
    """What a reader can do afterwards; abstract, concrete per page type below."""

    text = models.CharField(
        max_length=300, help_text=_("Start with a verb: 'Explain…', 'Calculate…', 'Decide…'.")
    )
    domain = models.CharField(
        max_length=16, choices=OutcomeDomain.choices, default=OutcomeDomain.KNOWLEDGE
    )
    level = models.CharField(
        max_length=3, choices=OutcomeLevel.choices, default=OutcomeLevel.LEVEL_III
    )

    etc_domain = models.CharField(
        _("ESR curriculum topic"),
        max_length=24,
        choices=EtcDomain.choices,
        blank=True,
        help_text=_("The imaging-informatics topic of the ESR European Training Curriculum."),
    )
    role_user = models.BooleanField(_("AI syllabus role: user"), default=False)
    role_purchaser = models.BooleanField(_("AI syllabus role: purchaser"), default=False)
    role_clinical_collaborator = models.BooleanField(
        _("AI syllabus role: clinical collaborator"), default=False
    )
    role_developer = models.BooleanField(_("AI syllabus role: developer"), default=False)

    panels = [
        FieldPanel("text"),
        FieldPanel("domain"),
        FieldPanel("level"),
        FieldPanel("etc_domain"),
        FieldPanel("role_user"),
        FieldPanel("role_purchaser"),
        FieldPanel("role_clinical_collaborator"),
        FieldPanel("role_developer"),
    ]

    class Meta(Orderable.Meta):
        abstract = True

    def __str__(self) -> str:
        return self.text

    @property
    def syllabus_roles(self) -> list[str]:
        return [role for role in SYLLABUS_ROLES if getattr(self, f"role_{role}")]


class CurriculumIndexPage(Page):
    """Lists the courses a visitor may see. One per site, under the root."""

    introduction = RichTextField(blank=True, features=["bold", "italic", "link"])

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["curriculum.CurriculumPage"]
    max_count = 1
    content_panels = [*Page.content_panels, FieldPanel("introduction")]

    def route(self, request, path_components):
        """A lesson in one query by its URL path; any other page walks the tree as usual.

        Wagtail's route asks each level for its child by slug and then for the child's
        specific page, two queries per level (eight for a lesson). A lesson's url_path is
        this page's url_path plus the path asked for, and Wagtail, like the walk, serves
        the page found when it is live.
        """
        lesson = self.live_lesson_at(self.url_path, path_components)
        if lesson is not None:
            return RouteResult(lesson)
        return super().route(request, path_components)

    @staticmethod
    def live_lesson_at(index_url_path: str, path_components: list[str]) -> "LessonPage | None":
        """The live lesson at this path below a course index whose url_path is given (one
        query; curriculum.lesson_routes asks it knowing only the index's url_path)."""
        if not path_components:
            return None
        url_path = index_url_path + "/".join(path_components) + "/"
        return LessonPage.objects.live().filter(url_path=url_path).first()

    def get_context(self, request, *args, **kwargs):
        from curriculum.selectors import courses_for_user

        context = super().get_context(request, *args, **kwargs)
        context["courses"] = courses_for_user(user=request.user, index=self)
        return context


class CurriculumPage(Page):
    """A course: the unit residents enrol in."""

    summary = models.CharField(max_length=300, blank=True)
    introduction = RichTextField(blank=True, features=["bold", "italic", "link", "ul", "ol"])
    self_enrolment_allowed = models.BooleanField(
        default=False,
        help_text=_("Residents may enrol themselves; otherwise an admin or a cohort enrols them."),
    )

    parent_page_types = ["curriculum.CurriculumIndexPage"]
    subpage_types = ["curriculum.ModulePage"]
    content_panels = [*Page.content_panels, FieldPanel("summary"), FieldPanel("introduction")]
    settings_panels = [*Page.settings_panels, FieldPanel("self_enrolment_allowed")]
    search_fields = [*Page.search_fields, index.SearchField("summary")]

    def get_context(self, request, *args, **kwargs):
        from accounts import permissions
        from curriculum.selectors import READING_WORDS_PER_MINUTE, course_levels, course_progress

        context = super().get_context(request, *args, **kwargs)
        context["progress"] = course_progress(user=request.user, course=self)
        context["levels"] = course_levels(course=self)
        context["reading_wpm"] = READING_WORDS_PER_MINUTE
        context["may_view_outcome_mapping"] = permissions.may(
            request.user, "curriculum.view_outcome_mapping", self
        )
        context["may_self_enrol"] = permissions.may(request.user, "curriculum.self_enrol", self)
        context["may_view_course_progress"] = permissions.may(
            request.user, "curriculum.view_course_progress", self
        )
        return context


class ModulePage(Page):
    summary = models.CharField(max_length=300, blank=True)
    # No longer shown or edited: a module's duration is its lessons' computed durations
    # (curriculum.selectors.lesson_durations). Kept so old revisions still load.
    estimated_minutes = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)

    parent_page_types = ["curriculum.CurriculumPage"]
    subpage_types = ["curriculum.LessonPage"]
    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        MultiFieldPanel(
            [InlinePanel("outcomes", label=_("Outcome"))], heading=_("Learning outcomes")
        ),
        MultiFieldPanel(
            [InlinePanel("prerequisites", label=_("Required module"))],
            heading=_("Prerequisites"),
        ),
    ]
    search_fields = [*Page.search_fields, index.SearchField("summary")]

    def get_context(self, request, *args, **kwargs):
        from curriculum.selectors import READING_WORDS_PER_MINUTE, module_progress

        context = super().get_context(request, *args, **kwargs)
        context["progress"] = module_progress(user=request.user, module=self)
        context["reading_wpm"] = READING_WORDS_PER_MINUTE
        return context


class ModuleLearningOutcome(LearningOutcome):
    page = ParentalKey(ModulePage, on_delete=models.CASCADE, related_name="outcomes")


class ModulePrerequisite(Orderable):
    """This module opens to a resident only once they completed `required_module`."""

    page = ParentalKey(ModulePage, on_delete=models.CASCADE, related_name="prerequisites")
    required_module = models.ForeignKey(
        ModulePage, on_delete=models.CASCADE, related_name="required_by"
    )

    panels = [PageChooserPanel("required_module", page_type="curriculum.ModulePage")]

    def __str__(self) -> str:
        return str(self.required_module)


# Below a lesson's URL, its reader's own parts (labs, quizzes, viewers, completion), which
# the page fetches after it has loaded (curriculum.lesson_shell).
READER_PARTS_SLUG = "reader-parts"


class LessonPage(Page):
    summary = models.CharField(max_length=300, blank=True)
    # No longer shown or edited: durations are computed from the words and the measured lab
    # times (curriculum.selectors.lesson_durations). Kept so old revisions still load.
    estimated_minutes = models.PositiveSmallIntegerField(default=20, editable=False)
    body = StreamField(LessonBodyBlock(), blank=True)

    parent_page_types = ["curriculum.ModulePage"]
    subpage_types: list[str] = []
    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        MultiFieldPanel(
            [InlinePanel("outcomes", label=_("Outcome"))], heading=_("Learning outcomes")
        ),
        FieldPanel("body"),
    ]
    search_fields = [
        *Page.search_fields,
        index.SearchField("summary"),
        index.SearchField("body"),
    ]

    def route(self, request, path_components):
        """The lesson itself, or below it its reader's own parts (curriculum.lesson_shell),
        served through Wagtail's serve view like the page: the same view restrictions,
        course access and prerequisite hooks decide who may have them."""
        if path_components == [READER_PARTS_SLUG] and self.live:
            return RouteResult(self, kwargs={"reader_parts": True})
        return super().route(request, path_components)

    def serve(self, request, *args, reader_parts=False, **kwargs):
        from curriculum.lesson_shell import (
            lesson_page_render,
            lesson_reader_parts_response,
            shell_usable,
        )

        if reader_parts:
            return lesson_reader_parts_response(self, request)
        # Most of the page is rendered once and kept, and the reader's own parts follow it
        # (curriculum.lesson_shell); previews, visitors and pages with messages waiting are
        # rendered whole, as Wagtail does.
        if not shell_usable(self, request):
            return super().serve(request, *args, **kwargs)
        request.is_preview = False
        return HttpResponse(lesson_page_render(self, request))

    def get_view_restrictions(self):
        """Wagtail's restrictions of this lesson and its ancestors; when its cached frame says
        none apply (the usual case), an empty query that asks nothing of the database.
        Adding, changing or removing a restriction bumps the frames' generation
        (CurriculumConfig.ready), so a new restriction is enforced at once."""
        from curriculum.lesson_frame import lesson_frame

        published = self.pk is not None and self.live_revision_id is not None
        if published and not lesson_frame(self).view_restricted:
            return PageViewRestriction.objects.none()
        return super().get_view_restrictions()

    def get_context(self, request, *args, **kwargs):
        context = self.get_shared_context(request, *args, **kwargs)
        # Each part rendered per reader with its block (a StreamField converts, with their
        # queries, only the blocks asked for).
        context["body_parts"] = [
            (part, None if part.index is None else self.body[part.index])
            for part, _block in context["body_parts"]
        ]
        context.update(self.get_reader_context(request))
        return context

    def get_shared_context(self, request, *args, **kwargs):
        """What every reader of this lesson sees alike (from the cache); `body_parts` pairs
        each part of the body with None: its block is only converted when it is rendered."""
        from curriculum.lesson_frame import lesson_frame
        from curriculum.selectors import READING_WORDS_PER_MINUTE

        context = super().get_context(request, *args, **kwargs)
        context["frame"] = frame = lesson_frame(self)
        context["body_parts"] = [(part, None) for part in frame.body]
        context["duration"] = frame.duration
        context["reading_wpm"] = READING_WORDS_PER_MINUTE
        return context

    def get_reader_context(self, request) -> dict:
        """The reader's own state of this lesson: completed, or what completes it."""
        from accounts import permissions
        from curriculum.lesson_frame import lesson_work_kept
        from curriculum.selectors import lesson_is_completed

        # The lesson's labs and quizzes, read once for the completion rule and the page.
        work = lesson_work_kept(self)
        is_completed = lesson_is_completed(user=request.user, lesson=self, work=work)
        return {
            "has_work": work.exists,
            "is_completed": is_completed,
            # The page offers "Mark complete" only to a reader who has not completed a
            # lesson with nothing to do (the rule says so too; known here, it spares the
            # rule's reads).
            "may_mark_complete": (
                not is_completed
                and not work.exists
                and permissions.may(request.user, "curriculum.mark_lesson_complete", self)
            ),
        }


class LessonLearningOutcome(LearningOutcome):
    page = ParentalKey(LessonPage, on_delete=models.CASCADE, related_name="outcomes")


class CompletionSource(models.TextChoices):
    MANUAL = "manual", _("Marked complete by the resident")
    LAB = "lab", _("The lesson's lab finished")
    # Completions recorded before a lesson with labs or a quiz needed them done (migration
    # 0006): they keep counting, so nobody's progress or certificate is taken back.
    LEGACY = "legacy", _("Recorded before labs and quizzes were required")
    OVERRIDE = "override", _("An educator completed it (the platform failed the lab)")


class LessonCompletion(models.Model):
    """A resident finished a lesson. Written only by `curriculum.services`."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_completions"
    )
    lesson = models.ForeignKey(LessonPage, on_delete=models.CASCADE, related_name="completions")
    source = models.CharField(
        max_length=16, choices=CompletionSource.choices, default=CompletionSource.MANUAL
    )
    completed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "lesson"), name="unique_lesson_completion"),
        ]
        ordering = ("-completed_at",)

    def __str__(self) -> str:
        return f"{self.user} completed {self.lesson}"


class CompletionOverrideIsAppendOnly(Exception):
    """Raised on any attempt to change or remove a completion override's record."""


class CompletionOverride(models.Model):
    """The audit record of an educator completing a lesson for a resident because the
    platform failed its lab. Written only by `curriculum.services.lesson_completion_override`;
    never changed, never deleted (the people it names are PROTECTed)."""

    educator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    lesson = models.ForeignKey(LessonPage, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-at", "-pk")

    def __str__(self) -> str:
        return f"#{self.educator_id} completed {self.lesson} for #{self.resident_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise CompletionOverrideIsAppendOnly("Completion overrides cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise CompletionOverrideIsAppendOnly("Completion overrides cannot be deleted.")


class LoadedContent(models.Model):
    """What `curriculum_load` last wrote to a page, so that it never overwrites an edit.

    `written_fingerprint` is the fingerprint of the page as the loader left it. If the page's
    fingerprint differs now, an educator changed it and the loader keeps its hands off.
    `source_fingerprint` hashes the file content that produced the page (which version of
    content/ it came from).
    """

    page = models.OneToOneField(Page, on_delete=models.CASCADE, related_name="loaded_content")
    source_path = models.CharField(max_length=300)
    source_fingerprint = models.CharField(max_length=64)
    written_fingerprint = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.source_path
