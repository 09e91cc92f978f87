from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from reader_study.models import ReaderStudyExercise


class ReaderStudyExerciseViewSet(SnippetViewSet):
    model = ReaderStudyExercise
    icon = "view"
    menu_label = "Reader studies"
    list_display = ("title", "cases_per_arm", "wrong_share", "is_published")
    list_filter = ("is_published",)


register_snippet(ReaderStudyExerciseViewSet)
