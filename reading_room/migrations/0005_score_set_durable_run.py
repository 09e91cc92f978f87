"""Score sets become durable runs of the engine (runs.models.DurableRun).

Same table, same columns; a `started_at` column and the engine's (status, heartbeat_at)
index are added, and the one status value that differs is migrated: READY -> SUCCEEDED
(back again on reverse; CANCELLED, which score sets never had, becomes FAILED).
"""

from django.db import migrations, models

# Old score-set status -> the engine's; every other value (queued, running, failed) is the same.
FORWARD = {"ready": "succeeded"}
BACKWARD = {"succeeded": "ready", "cancelled": "failed"}


def _statuses_map(mapping):
    def migrate(apps, schema_editor):
        CohortScoreSet = apps.get_model("reading_room", "CohortScoreSet")
        for old, new in mapping.items():
            CohortScoreSet.objects.filter(status=old).update(status=new)

    return migrate


class Migration(migrations.Migration):

    dependencies = [
        ('reading_room', '0004_shipped_exercises_as_practised'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='cohortscoreset',
            options={'ordering': ('-created_at',)},
        ),
        migrations.AddField(
            model_name='cohortscoreset',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='cohortscoreset',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Finished'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], db_index=True, default='queued', max_length=16),
        ),
        migrations.AddIndex(
            model_name='cohortscoreset',
            index=models.Index(fields=['status', 'heartbeat_at'], name='reading_roo_status_ed7967_idx'),
        ),
        migrations.RunPython(_statuses_map(FORWARD), _statuses_map(BACKWARD)),
    ]
