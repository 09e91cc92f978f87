from django.apps import AppConfig


class ReaderStudyConfig(AppConfig):
    name = "reader_study"
    verbose_name = "Reader study (automation bias)"
