"""Bring the two shipped exercises to the clinic as practised (issue 16), keeping their rows.

Only rows that still hold exactly what the course shipped are changed: an exercise an
educator has refined is left alone, as the content loader leaves it alone. Runs already
made keep their own stored parameters and results.
"""

from django.db import migrations

TRIAGE_TITLE = "PE triage: reorder the worklist by the AI's flag"
TRIAGE_SHIPPED = {
    "kind": "triage",
    "prevalence": 0.15,
    "default_threshold": 0.5,
    "shift_hours": 8.0,
    "arrivals_per_hour": 9.0,
    "reading_minutes": 6.0,
    "radiologists": 1,
}
TRIAGE_NOW = {
    "finding": "pulmonary embolism",
    "default_threshold": 0.35,
    "shift_hours": 10.0,
    "arrivals_per_hour": 5.0,
    "reading_minutes": 8.0,
    "radiologists": 1,
    "backlog_studies": 30,
    "instructions": (
        "<p>Overnight, one radiologist, 30 CTPAs already waiting and five more an hour; 15 % "
        "show a pulmonary embolism. Run the night first-in-first-out, then with the AI's "
        "flags, then with an aging rule. Compare the mean time to report of PEs with the "
        "tail (90th percentile and maximum) of the PEs the AI missed, and count what the "
        "false flags cost. Replay the same night in the day clinic to see when reordering "
        "stops mattering.</p>"
    ),
}
SCREENING_TITLE = "Screening: let the AI clear the lowest scores"
SCREENING_NEW_TITLE = "Screening: AI in a double-reading programme"
SCREENING_SHIPPED = {
    "kind": "screening",
    "prevalence": 0.008,
    "default_threshold": 0.2,
    "population_size": 10000,
    "human_sensitivity": 0.85,
    "human_specificity": 0.92,
}
SCREENING_NOW = {
    "title": SCREENING_NEW_TITLE,
    "default_threshold": 0.5,
    "population_size": 20000,
    "human_sensitivity": 0.64,
    "human_specificity": 0.978,
    "arbitration_sensitivity": 0.72,
    "arbitration_specificity": 0.52,
    "error_correlation": 0.0,
    "instructions": (
        "<p>The baseline is European double reading with arbitration. Set the AI threshold "
        "and compare two trialled pathways with it: MASAI-style (scores at or above the "
        "threshold are double-read, the rest single-read) and ScreenTrustCAD-style (the AI "
        "replaces the second reader; discordant cases go to arbitration). Read off the "
        "recall rate, cancers detected and missed at screening (interval cancers) per 1000 "
        "and the human reads saved. Then ask your educator to switch on correlated errors "
        "and see which benefit survives.</p>"
    ),
}


def forwards(apps, schema_editor):
    Exercise = apps.get_model("reading_room", "ReadingRoomExercise")
    Exercise.objects.filter(title=TRIAGE_TITLE, **TRIAGE_SHIPPED).update(**TRIAGE_NOW)
    if not Exercise.objects.filter(title=SCREENING_NEW_TITLE).exists():
        Exercise.objects.filter(title=SCREENING_TITLE, **SCREENING_SHIPPED).update(
            **SCREENING_NOW
        )


class Migration(migrations.Migration):
    dependencies = [("reading_room", "0003_triage_backlog_aging_screening_readers")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
