from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from labs.models import LabExercise


class LabExerciseViewSet(SnippetViewSet):
    model = LabExercise
    icon = "cogs"
    menu_label = "Lab exercises"
    list_display = ("title", "kind", "model_key", "study_key", "is_published")
    list_filter = ("kind", "is_published")


register_snippet(LabExerciseViewSet)
