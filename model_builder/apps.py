from django.apps import AppConfig


class ModelBuilderConfig(AppConfig):
    name = "model_builder"
    verbose_name = "Model builder"

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from model_builder import rules  # noqa: F401
