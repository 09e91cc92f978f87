from django.apps import AppConfig


class XapiConfig(AppConfig):
    name = "xapi"
    verbose_name = "xAPI outbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The apps below send their usual model signals; xAPI listens to them, so none of
        # them imports this app (docs/layers.md: upward references are names, not imports).
        from xapi import receivers

        receivers.connect()
