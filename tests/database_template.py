"""One migrated test database per run, copied for every pytest-xdist worker (PostgreSQL).

Django, Wagtail and the project's apps bring a few hundred migrations; under xdist each
worker used to run all of them against its own database, three at once on two cores.
Here the first worker migrates a template database under a file lock and every worker
then takes its own copy with `CREATE DATABASE ... TEMPLATE`, which PostgreSQL does by
copying files, not by replaying migrations. The migrated data serialised for
`serialized_rollback` is computed once with the template and handed to every worker.

One process (`-n 0`) and SQLite keep pytest-django's own set-up. A template left by an
earlier run is dropped and made again: it may come from other code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest
from filelock import FileLock


def _pytest_django_setup(request, django_db_blocker):
    """pytest-django's own `django_db_setup`: migrate this process's test databases."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _get_databases_for_setup

    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        old_config = setup_databases(
            verbosity=verbosity,
            interactive=False,
            aliases=aliases,
            serialized_aliases=serialized_aliases,
        )
    yield
    with django_db_blocker.unblock():
        _other_sessions_end()
        teardown_databases(old_config, verbosity=verbosity)


def _other_sessions_end() -> None:
    """End other sessions on this process's test database (PostgreSQL), so it can be
    dropped: a live server's thread may still hold one when the run ends."""
    from django.db import connection, connections

    connections.close_all()
    if connection.vendor != "postgresql":
        return
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        )


def _quoted(name: str) -> str:
    from django.db import connection

    return connection.ops.quote_name(name)


def _template_migrate(*, template: str, verbosity: int) -> str:
    """Migrate `template` (dropping any older one) and return its serialised data."""
    from django.db import connection
    from django.test.utils import setup_databases

    worker_test_name = connection.settings_dict["TEST"]["NAME"]
    connection.settings_dict["TEST"]["NAME"] = template
    try:
        setup_databases(
            verbosity=verbosity,
            interactive=False,
            aliases={connection.alias},
            serialized_aliases={connection.alias},
        )
        return connection._test_serialized_contents
    finally:
        connection.close()  # nobody may be connected to a template while it is copied
        connection.settings_dict["TEST"]["NAME"] = worker_test_name


def _template_copy(*, template: str, name: str) -> None:
    from django.db import connection

    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {_quoted(name)} WITH TEMPLATE {_quoted(template)}")


def _database_use(name: str) -> None:
    """Point this process's connection (and settings, as Django's set-up does) at `name`."""
    from django.conf import settings
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name
    settings.DATABASES[connection.alias]["NAME"] = name


def _content_types_cache() -> None:
    """Cache every content type, as migrating would have (auth's post_migrate looks them all
    up). A transactional test's flush empties the table before the migrated rows are put
    back; a process that had not cached a content type would, if asked for it in between,
    create it again under a new id, and putting back the original row then collides."""
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.get_for_models(*apps.get_models(), for_concrete_models=False)


def _database_drop(name: str) -> None:
    """Drop this worker's copy at the end of the run. A live server's thread may still hold
    a connection to it (pytest-django's own teardown only warns then); FORCE ends it."""
    from django.db import connection, connections

    connections.close_all()
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")


@dataclass(frozen=True)
class MigratedSnapshot:
    rows: dict[str, bytes]  # table -> its rows in PostgreSQL's binary COPY format
    delete_guarded: frozenset[str]  # tables whose triggers refuse DELETE (the audit log)


def migrated_snapshot_take() -> MigratedSnapshot:
    """The rows migrations left (content types, permissions, groups, Wagtail's root page and
    locale...), table by table, taken right after set-up."""
    from django.db import connection

    rows = {}
    with connection.cursor() as cursor:
        for table in _tables_with_rows(cursor):
            with cursor.copy(f"COPY {_quoted(table)} TO STDOUT (FORMAT binary)") as copy:
                rows[table] = b"".join(bytes(block) for block in copy)
        cursor.execute(
            "SELECT DISTINCT event_object_table FROM information_schema.triggers "
            "WHERE event_manipulation = 'DELETE' AND trigger_schema = current_schema()"
        )
        guarded = frozenset(row[0] for row in cursor.fetchall())
    return MigratedSnapshot(rows=rows, delete_guarded=guarded)


def _tables_with_rows(cursor) -> list[str]:
    """The project's tables that hold at least one row, in one query."""
    from django.db import connection

    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    probes = " UNION ALL ".join(
        f"SELECT %s WHERE EXISTS (SELECT 1 FROM {_quoted(table)})"  # noqa: S608 (Django's own table names, quoted)
        for table in tables
    )
    cursor.execute(probes, tables)
    return [row[0] for row in cursor.fetchall()]


def migrated_snapshot_restore(snapshot: MigratedSnapshot) -> None:
    """Empty every table a test wrote to and put the migrated rows back, ids included.

    What Django's flush plus serialized rollback does, at a fraction of the cost: only
    tables holding rows are emptied (not all ~250), and the migrated rows come back by
    COPY, table by table, instead of one INSERT per object. Foreign keys are checked at
    the commit, so the order of the tables does not matter."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        dirty = sorted(set(_tables_with_rows(cursor)) | set(snapshot.rows))
        for table in dirty:
            # DELETE, not TRUNCATE: a test leaves a few rows in a few tables, and TRUNCATE
            # pays for new files per table and index however few rows there were.
            if table not in snapshot.delete_guarded:
                cursor.execute(f"DELETE FROM {_quoted(table)}")  # noqa: S608 (as above)
        guarded = [_quoted(table) for table in dirty if table in snapshot.delete_guarded]
        if guarded:  # an append-only table's trigger refuses DELETE, not TRUNCATE
            cursor.execute(f"TRUNCATE {', '.join(guarded)}")
        for table, rows in snapshot.rows.items():
            with cursor.copy(f"COPY {_quoted(table)} FROM STDIN (FORMAT binary)") as copy:
                copy.write(rows)


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_modify_db_settings,
    tmp_path_factory,
):
    from django.db import connection

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if connection.vendor != "postgresql":
        yield from _pytest_django_setup(request, django_db_blocker)
        return
    if not worker:
        setup = _pytest_django_setup(request, django_db_blocker)
        next(setup)
        with django_db_blocker.unblock():
            connection._test_migrated_snapshot = migrated_snapshot_take()
        yield
        next(setup, None)
        return

    own_name = connection.settings_dict["TEST"]["NAME"]  # e.g. test_test_gw1
    template = own_name.removesuffix(f"_{worker}") + "_template"
    shared = tmp_path_factory.getbasetemp().parent  # one folder for all workers of the run
    original_name = connection.settings_dict["NAME"]
    with django_db_blocker.unblock(), FileLock(shared / "database-template.lock"):
        made = shared / "database-template.json"
        if not made.exists():
            serialized = _template_migrate(
                template=template, verbosity=request.config.option.verbose
            )
            made.write_text(json.dumps({"serialized": serialized}))
            _database_use(original_name)
        _template_copy(template=template, name=own_name)
    _database_use(own_name)
    connection._test_serialized_contents = json.loads(made.read_text())["serialized"]
    with django_db_blocker.unblock():
        _content_types_cache()
        connection._test_migrated_snapshot = migrated_snapshot_take()
    yield
    with django_db_blocker.unblock():
        _database_drop(own_name)
        _database_use(original_name)
