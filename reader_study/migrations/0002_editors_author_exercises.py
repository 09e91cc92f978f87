"""Educators (Wagtail's Editors group) author reader studies in the admin."""

from django.db import migrations

from accounts.editor_grants import EDITORS_GRANT_DEPENDENCIES, editors_grant_operation


class Migration(migrations.Migration):
    dependencies = [("reader_study", "0001_initial"), *EDITORS_GRANT_DEPENDENCIES]

    operations = [editors_grant_operation("reader_study", "readerstudyexercise")]
