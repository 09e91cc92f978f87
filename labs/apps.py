from django.apps import AppConfig


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = "Labs"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("labexercise",)
