from django.apps import AppConfig


class DeidLabConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "deid_lab"
    verbose_name = "De-identification lab"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("deidexercise",)

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from deid_lab import rules  # noqa: F401
