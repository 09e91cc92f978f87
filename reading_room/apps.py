from django.apps import AppConfig


class ReadingRoomConfig(AppConfig):
    name = "reading_room"
    verbose_name = "Reading room"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("readingroomexercise",)

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from reading_room import rules  # noqa: F401
