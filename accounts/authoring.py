"""What educators may author in the Wagtail admin, declared by the app that owns it.

An app lists the models educators create and edit as snippets in its AppConfig:

    class LabsConfig(AppConfig):
        educator_authored_models = ("labexercise",)

After every `migrate` the Editors group (educators, see accounts.services) gets the add,
change, delete and view permissions on those models, so a new exercise kind is authorable
by educators the moment its app says so — not only by the superuser. accounts reads the
declarations through the app registry and imports no app.
"""

from __future__ import annotations

from django.apps import apps as installed_apps

EDUCATOR_GROUP = "Editors"
ACTIONS = ("add", "change", "delete", "view")


def educator_authored_permissions():
    """The Permission rows educators need, for every app that declares authored models."""
    permission_model = installed_apps.get_model("auth", "Permission")
    wanted = [
        (config.label, model_name)
        for config in installed_apps.get_app_configs()
        for model_name in getattr(config, "educator_authored_models", ())
    ]
    permissions = []
    for app_label, model_name in wanted:
        permissions += permission_model.objects.filter(
            content_type__app_label=app_label,
            codename__in=[f"{action}_{model_name}" for action in ACTIONS],
        )
    return permissions


def educator_authoring_grant(**_signal) -> None:
    """post_migrate receiver; idempotent. Runs after each app's migration signal: the last
    one finds every app's permissions made (auth creates them on the same signal)."""
    group_model = installed_apps.get_model("auth", "Group")
    editors = group_model.objects.filter(name=EDUCATOR_GROUP).first()
    if editors is not None:
        editors.permissions.add(*educator_authored_permissions())
