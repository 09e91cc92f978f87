from django.apps import AppConfig


class ReaderStudyConfig(AppConfig):
    name = "reader_study"
    verbose_name = "Reader study (automation bias)"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("readerstudyexercise",)

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from reader_study import rules  # noqa: F401
