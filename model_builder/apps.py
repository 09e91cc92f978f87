from django.apps import AppConfig


class ModelBuilderConfig(AppConfig):
    name = "model_builder"
    verbose_name = "Model builder"

    def ready(self):
        # A resident's finished model runs in any lab (keys "trained-<pk>"): the zoo and the
        # labs find it through this source instead of importing the model builder.
        from model_builder.selectors import trained_model_choices_for_user, trained_model_usable
        from model_builder.trained import TRAINED_KEY_PREFIX
        from zoo.registry import ModelSource, model_source_register

        model_source_register(
            ModelSource(
                prefix=TRAINED_KEY_PREFIX,
                usable=lambda key: trained_model_usable(key=key),
                choices_for_user=lambda user: trained_model_choices_for_user(user=user),
            )
        )

        # Register this app's access rules (accounts.permissions) at start-up.
        from model_builder import rules  # noqa: F401
