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
