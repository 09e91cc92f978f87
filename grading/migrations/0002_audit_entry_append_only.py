"""The database itself refuses changes to the audit log, so not even raw SQL can rewrite
history: UPDATE and DELETE on PostgreSQL, UPDATE on SQLite.

SQLite gets no DELETE trigger because Django empties SQLite tables between transactional
tests with DELETE (PostgreSQL uses TRUNCATE, which row triggers do not see); deletes there
are still refused by the model, its queryset and the admin, and PROTECT keeps cascades out.
"""

from django.db import migrations

TABLE = "grading_auditentry"

SQLITE = [
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",

]
SQLITE_REVERSE = [f"DROP TRIGGER {TABLE}_no_update"]

POSTGRES = [
    f"""CREATE FUNCTION {TABLE}_refuse() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION {TABLE}_refuse()""",
]
POSTGRES_REVERSE = [
    f"DROP TRIGGER {TABLE}_append_only ON {TABLE}",
    f"DROP FUNCTION {TABLE}_refuse()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("grading", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}),
        ),
    ]
