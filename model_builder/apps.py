from django.apps import AppConfig


class ModelBuilderConfig(AppConfig):
    name = "model_builder"
    verbose_name = "Model builder"
