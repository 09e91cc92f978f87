"""The question bank and assessments in Wagtail's admin, as snippets (educators author)."""

from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from assessments.models import Assessment, Question


class QuestionViewSet(SnippetViewSet):
    model = Question
    icon = "help"
    menu_label = "Question bank"
    list_display = ("title", "kind", "difficulty", "pool", "module", "outcome")
    list_filter = ("kind", "difficulty", "pool")
    search_fields = ("title", "outcome", "pool")


class AssessmentViewSet(SnippetViewSet):
    model = Assessment
    icon = "tasks"
    menu_label = "Quizzes and exams"
    list_display = ("title", "kind", "course", "opens_at", "closes_at", "is_published")
    list_filter = ("kind", "is_published")


class AssessmentGroup(SnippetViewSetGroup):
    items = (QuestionViewSet, AssessmentViewSet)
    menu_icon = "tasks"
    menu_label = "Assessment"
    menu_name = "assessment"


register_snippet(AssessmentGroup)
