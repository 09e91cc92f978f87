"""The question bank and assessments in Wagtail's admin, as snippets (educators author)."""

from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.widgets.button import HeaderButton
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import IndexView, SnippetViewSet, SnippetViewSetGroup

from accounts import permissions
from assessments.models import Assessment, Question

# (rule, label, URL name, icon, attributes) of the bank's QTI 2.1 buttons.
BANK_BUTTONS = (
    (
        "assessments.export_question_bank",
        _("Export QTI 2.1"),
        "assessments:bank_export",
        "download",
        {"data-qti-export": "", "download": ""},
    ),
    (
        "assessments.import_question_bank",
        _("Import QTI 2.1"),
        "assessments:bank_import",
        "upload",
        {"data-qti-import": ""},
    ),
)


class QuestionIndexView(IndexView):
    """The bank's listing, with its QTI 2.1 export and import beside "Add"."""

    @cached_property
    def header_buttons(self):
        buttons = list(super().header_buttons)
        for rule_name, label, url_name, icon, attrs in BANK_BUTTONS:
            if permissions.may(self.request.user, rule_name):
                buttons.append(
                    HeaderButton(label, url=reverse(url_name), icon_name=icon, attrs=attrs)
                )
        return buttons


class QuestionViewSet(SnippetViewSet):
    model = Question
    index_view_class = QuestionIndexView
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
