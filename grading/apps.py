from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "grading"
    verbose_name = "Grading"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("rubric", "rubricattachment", "markingscheme", "gradebookcategory")

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from grading import rules  # noqa: F401
