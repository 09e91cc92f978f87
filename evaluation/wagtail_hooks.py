from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from evaluation.models import CohortExercise


class CohortExerciseViewSet(SnippetViewSet):
    model = CohortExercise
    icon = "table"
    menu_label = "Cohort labs"
    list_display = ("title", "kind", "model_key", "cohort_key", "is_published")
    list_filter = ("kind", "is_published")


register_snippet(CohortExerciseViewSet)
