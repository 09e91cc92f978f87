from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self):
        from api import rules, schema  # noqa: F401  access rules; the token's OpenAPI scheme
