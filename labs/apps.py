from django.apps import AppConfig


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = "Labs"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("labexercise",)

    def ready(self):
        # Educators' validated uploads are models of the zoo (keys "upload-<pk>"); the zoo,
        # a layer below labs, finds them through this source instead of importing labs.
        from labs.selectors import uploaded_model_usable, uploaded_models_usable_choices
        from zoo.registry import ModelSource, model_source_register
        from zoo.uploaded import UPLOAD_KEY_PREFIX

        model_source_register(
            ModelSource(
                prefix=UPLOAD_KEY_PREFIX,
                usable=lambda key: uploaded_model_usable(key=key),
                choices=uploaded_models_usable_choices,
            )
        )

        # Register this app's access rules (accounts.permissions) at start-up.
        from labs import rules  # noqa: F401
