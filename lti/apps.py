from django.apps import AppConfig


class LtiConfig(AppConfig):
    name = "lti"
    verbose_name = "LTI 1.3 tool"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Access rules; the assessments and grading apps' model signals (a released result
        # sends its score back to the LMS): none of them imports this app.
        from lti import receivers, rules  # noqa: F401

        receivers.connect()
