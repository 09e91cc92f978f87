from django.apps import AppConfig


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = "Labs"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("labexercise",)

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from labs import rules  # noqa: F401
