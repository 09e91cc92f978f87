from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = "Assessments"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("question", "assessment")
