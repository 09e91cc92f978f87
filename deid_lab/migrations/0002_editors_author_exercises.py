"""Educators (Wagtail's Editors group) author de-identification exercises in the admin."""

from django.db import migrations


def editors_grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make this app's now.
    app_config = apps.get_app_config("deid_lab")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    group = apps.get_model("auth", "Group").objects.filter(name="Editors").first()
    if group is None:
        return
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="deid_lab", content_type__model="deidexercise"
    )
    group.permissions.add(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("deid_lab", "0001_initial"),
        ("wagtailcore", "0002_initial_data"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(editors_grant, migrations.RunPython.noop)]
