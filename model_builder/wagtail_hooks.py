from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from model_builder.models import BuilderExercise


class BuilderExerciseViewSet(SnippetViewSet):
    model = BuilderExercise
    icon = "cogs"
    menu_label = "Leakage exercises (model builder)"
    list_display = ("title", "lesion_patients", "epochs", "is_published")
    list_filter = ("is_published",)


register_snippet(BuilderExerciseViewSet)
