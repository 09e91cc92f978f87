"""Educators (Wagtail's Editors group) author reader studies in the admin."""

from django.db import migrations


def editors_grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make this app's now.
    app_config = apps.get_app_config("reader_study")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    group = apps.get_model("auth", "Group").objects.filter(name="Editors").first()
    if group is None:
        return
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="reader_study", content_type__model="readerstudyexercise"
    )
    group.permissions.add(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("reader_study", "0001_initial"),
        ("wagtailcore", "0002_initial_data"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(editors_grant, migrations.RunPython.noop)]
