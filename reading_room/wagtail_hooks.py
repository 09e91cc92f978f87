from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from reading_room.models import ReadingRoomExercise


class ReadingRoomExerciseViewSet(SnippetViewSet):
    model = ReadingRoomExercise
    icon = "time"
    menu_label = "Reading-room exercises"
    list_display = ("title", "kind", "prevalence", "default_threshold", "is_published")
    list_filter = ("kind", "is_published")


register_snippet(ReadingRoomExerciseViewSet)
