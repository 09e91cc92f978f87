from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "grading"
    verbose_name = "Grading"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("rubric", "rubricattachment", "markingscheme", "gradebookcategory")
