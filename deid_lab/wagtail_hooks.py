from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from deid_lab.models import DeidExercise


class DeidExerciseViewSet(SnippetViewSet):
    model = DeidExercise
    icon = "lock"
    menu_label = "De-identification exercises"
    list_display = ("title", "variant", "is_published")
    list_filter = ("variant", "is_published")


register_snippet(DeidExerciseViewSet)
