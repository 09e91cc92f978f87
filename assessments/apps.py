from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = "Assessments"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("question", "assessment")

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from assessments import rules  # noqa: F401
