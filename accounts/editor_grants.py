"""A data migration step every authoring app needs: Wagtail's Editors group (educators, see
accounts.services) gets the add/change/delete/view permissions on the app's authored models.

Migrations call `editors_grant_operation(...)` instead of each carrying its own copy.
"""

from __future__ import annotations

from django.db import migrations

# What the migration using the step must depend on, besides its own app's models.
EDITORS_GRANT_DEPENDENCIES = [
    ("wagtailcore", "0002_initial_data"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("contenttypes", "0002_remove_content_type_name"),
]


def editors_grant_operation(app_label: str, *model_names: str) -> migrations.RunPython:
    """RunPython granting Editors the permissions on `model_names` (lower-case) of the app."""

    def editors_grant(apps, schema_editor):
        from django.contrib.auth.management import create_permissions

        # Permissions are normally created after all migrations; make this app's now.
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
        group = apps.get_model("auth", "Group").objects.filter(name="Editors").first()
        if group is None:
            return
        permissions = apps.get_model("auth", "Permission").objects.filter(
            content_type__app_label=app_label, content_type__model__in=model_names
        )
        group.permissions.add(*permissions)

    return migrations.RunPython(editors_grant, migrations.RunPython.noop)
