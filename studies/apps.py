from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    verbose_name = "Study library"

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from studies import rules  # noqa: F401
