from django.apps import AppConfig


class ReaderStudyConfig(AppConfig):
    name = "reader_study"
    verbose_name = "Reader study (automation bias)"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("readerstudyexercise",)
