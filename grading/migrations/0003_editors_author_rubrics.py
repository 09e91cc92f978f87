"""Educators (Wagtail's "Editors" group, see accounts.services) author rubrics, marking rules
and gradebook categories as snippets in the Wagtail admin."""

from django.db import migrations

AUTHORED = ("rubric", "rubricattachment", "markingscheme", "gradebookcategory")


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally made after migrating; make this app's now so they can be given.
    app_config = apps.get_app_config("grading")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    editors = Group.objects.filter(name="Editors").first()
    if editors is None:
        return
    editors.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="grading", content_type__model__in=AUTHORED
        )
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    editors = Group.objects.filter(name="Editors").first()
    if editors is not None:
        editors.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="grading", content_type__model__in=AUTHORED
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0002_audit_entry_append_only"),
        ("wagtailcore", "0002_initial_data"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
