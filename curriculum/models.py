"""The curriculum as a Wagtail page tree: index > curriculum (a course) > module > lesson."""

from django.db import models
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from curriculum.blocks import LessonBodyBlock


class CurriculumIndexPage(Page):
    """Lists the courses a visitor may see. One per site, under the root."""

    introduction = RichTextField(blank=True, features=["bold", "italic", "link"])

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["curriculum.CurriculumPage"]
    max_count = 1
    content_panels = [*Page.content_panels, FieldPanel("introduction")]

    def get_context(self, request, *args, **kwargs):
        from curriculum.selectors import courses_for_user

        context = super().get_context(request, *args, **kwargs)
        context["courses"] = courses_for_user(user=request.user, index=self)
        return context


class CurriculumPage(Page):
    """A course: the unit residents enrol in."""

    summary = models.CharField(max_length=300, blank=True)
    introduction = RichTextField(blank=True, features=["bold", "italic", "link", "ul", "ol"])

    parent_page_types = ["curriculum.CurriculumIndexPage"]
    subpage_types = ["curriculum.ModulePage"]
    content_panels = [*Page.content_panels, FieldPanel("summary"), FieldPanel("introduction")]
    search_fields = [*Page.search_fields, index.SearchField("summary")]


class ModulePage(Page):
    summary = models.CharField(max_length=300, blank=True)

    parent_page_types = ["curriculum.CurriculumPage"]
    subpage_types = ["curriculum.LessonPage"]
    content_panels = [*Page.content_panels, FieldPanel("summary")]


class LessonPage(Page):
    summary = models.CharField(max_length=300, blank=True)
    estimated_minutes = models.PositiveSmallIntegerField(default=20)
    body = StreamField(LessonBodyBlock(), blank=True)

    parent_page_types = ["curriculum.ModulePage"]
    subpage_types: list[str] = []
    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        FieldPanel("estimated_minutes"),
        FieldPanel("body"),
    ]
    search_fields = [*Page.search_fields, index.SearchField("body")]
