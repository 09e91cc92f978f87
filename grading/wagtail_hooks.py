from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from grading.models import GradebookCategory, MarkingScheme, Rubric


class RubricViewSet(SnippetViewSet):
    model = Rubric
    icon = "list-ol"
    menu_label = "Rubrics"
    list_display = ("title",)


class MarkingSchemeViewSet(SnippetViewSet):
    model = MarkingScheme
    icon = "group"
    menu_label = "Marking rules"
    list_display = ("assessment", "double_marking", "discrepancy_percent")


class GradebookCategoryViewSet(SnippetViewSet):
    model = GradebookCategory
    icon = "table"
    menu_label = "Gradebook categories"
    list_display = ("name", "course", "weight")


register_snippet(RubricViewSet)
register_snippet(MarkingSchemeViewSet)
register_snippet(GradebookCategoryViewSet)
