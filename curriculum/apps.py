from django.apps import AppConfig


class CurriculumConfig(AppConfig):
    name = "curriculum"
    verbose_name = "Curriculum"

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from curriculum import rules  # noqa: F401
