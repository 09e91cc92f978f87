"""Reads for labs."""

from accounts import permissions
from labs.models import LabRun


def lab_runs_for_user(*, user, exercise=None, limit: int = 50):
    """Runs this user may see (their own for residents), newest first."""
    runs = LabRun.objects.filter(permissions.lab_runs_visible_filter(user)).select_related(
        "exercise", "user"
    )
    if exercise is not None:
        runs = runs.filter(exercise=exercise, user=user)
    return runs[:limit]


def lab_run_metrics_display(run: LabRun) -> list[tuple[str, str]]:
    """Metrics as (label, formatted value) rows in a stable order."""
    return [(name, f"{value:.3f}") for name, value in sorted(run.metrics.items())]


def uploaded_model_usable(*, key: str):
    """The validated upload with this zoo key as a ZooModel, or None."""
    from pathlib import Path

    from labs.models import UploadedModel, UploadedModelStatus
    from labs.zoo.uploaded import UPLOAD_KEY_PREFIX, UploadedTorchScriptModel, UploadSpec

    pk = key.removeprefix(UPLOAD_KEY_PREFIX)
    if not pk.isdigit():
        return None
    row = (
        UploadedModel.objects.filter(pk=int(pk), status=UploadedModelStatus.VALID)
        .select_related("uploaded_by")
        .first()
    )
    if row is None:
        return None
    return UploadedTorchScriptModel(
        key=row.zoo_key,
        title=f"{row.title} (uploaded)",
        archive=Path(row.archive.path),
        sha256=row.archive_sha256,
        spec=UploadSpec.from_json(row.spec),
        author=str(row.uploaded_by),
    )


def uploaded_models_usable_choices() -> list[tuple[str, str]]:
    from labs.models import UploadedModel, UploadedModelStatus

    return [
        (row.zoo_key, f"{row.title} (uploaded)")
        for row in UploadedModel.objects.filter(status=UploadedModelStatus.VALID)
    ]


def uploaded_models_for_user(*, user):
    """Uploads this educator made (all of them for programme admins), newest first."""
    from accounts import permissions
    from labs.models import UploadedModel

    rows = UploadedModel.objects.select_related("uploaded_by")
    return rows if permissions.may_administer(user) else rows.filter(uploaded_by=user)
