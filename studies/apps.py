from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    verbose_name = "Study library"

    def ready(self):
        # Every process that reads pixels (web, workers, library builds) decodes the same
        # transfer syntaxes.
        from studies.pixel_decoders import pixel_decoders_register

        pixel_decoders_register()

        # Register this app's access rules (accounts.permissions) at start-up.
        from studies import rules  # noqa: F401
