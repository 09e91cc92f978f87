from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Durable runs"

    def ready(self) -> None:
        # Register this app's access rules (accounts.permissions) at start-up.
        from runs import rules  # noqa: F401
