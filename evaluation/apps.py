from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"
    verbose_name = "Evaluation (cohort labs)"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("cohortexercise",)

    def ready(self):
        # Register this app's access rules (accounts.permissions) at start-up.
        from evaluation import rules  # noqa: F401
