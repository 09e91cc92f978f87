from pathlib import Path

import pydicom
from django.conf import settings
from django.db import migrations, models


def declared_frames_backfill(apps, schema_editor):
    """Read Number of Frames from each indexed file's header; where the file cannot be read,
    a multi-frame count is evidence enough that the attribute exists."""
    # As studies.selectors.library_root reads it today, written out so this migration does
    # not change when that function does.
    configured = getattr(settings, "STUDY_LIBRARY_ROOT", None)
    root = Path(configured) if configured else Path(settings.MEDIA_ROOT) / "library"
    Instance = apps.get_model("studies", "Instance")
    declaring = []
    for pk, file_path, frames in Instance.objects.values_list(
        "pk", "file_path", "number_of_frames"
    ).iterator():
        try:
            header = pydicom.dcmread(
                Path(root) / file_path, stop_before_pixels=True, specific_tags=["NumberOfFrames"]
            )
            declares = header.get("NumberOfFrames") not in (None, "")
        except (OSError, ValueError, pydicom.errors.InvalidDicomError):
            declares = frames > 1
        if declares:
            declaring.append(pk)
    for start in range(0, len(declaring), 500):
        Instance.objects.filter(pk__in=declaring[start : start + 500]).update(
            declares_number_of_frames=True
        )


class Migration(migrations.Migration):
    dependencies = [
        ("studies", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="instance",
            name="declares_number_of_frames",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(declared_frames_backfill, migrations.RunPython.noop),
    ]
