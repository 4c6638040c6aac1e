"""Alembic migrations on both databases: from empty to head, in step with orm.py, concurrent."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from taskflow.adapters import orm
from taskflow.adapters.database import (
    alembic_config,
    current_revision,
    declared_in_metadata,
    head_revisions,
    make_engine,
    migrate,
)

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_creates_every_table_and_is_repeatable(empty_database_url):
    migrate(empty_database_url)
    migrate(empty_database_url)

    assert current_revision(empty_database_url) == HEAD
    assert set(orm.metadata.tables) <= table_names(empty_database_url)


def test_the_head_read_without_alembic_is_alembics_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()

    assert head_revisions() == frozenset(heads) == {HEAD}


# What a function does on its first event (bootstrap.engine): migrate a database that is most
# often at head already. Then nothing is upgraded, and Alembic (12 MiB) is never imported.
MIGRATE_AND_REPORT = (
    "import sys; from taskflow.adapters.database import migrate, current_revision;"
    "migrate(sys.argv[1]); loaded = 'alembic' in sys.modules;"
    "print(current_revision(sys.argv[1]), loaded)"
)


def test_migrating_a_database_at_head_loads_no_alembic(empty_database_url):
    def migrate_in_a_new_process() -> str:
        return subprocess.run(
            [sys.executable, "-c", MIGRATE_AND_REPORT, empty_database_url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()

    assert migrate_in_a_new_process() == [HEAD, "True"]  # empty: Alembic upgrades it
    assert migrate_in_a_new_process() == [HEAD, "False"]  # at head: left as it is


def test_a_database_behind_head_is_still_upgraded(empty_database_url):
    command.upgrade(alembic_config(empty_database_url), "0001")

    migrate(empty_database_url)

    assert current_revision(empty_database_url) == HEAD


def test_the_migrated_schema_matches_the_tables_in_code(empty_database_url):
    migrate(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"include_object": declared_in_metadata, "compare_type": True},
            )
            differences = compare_metadata(context, orm.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_full_text_search_objects_exist(empty_database_url):
    migrate(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        inspector = sa.inspect(engine)
        if engine.dialect.name == "postgresql":
            assert "search_vector" in {c["name"] for c in inspector.get_columns("tasks")}
            indexes = {i["name"]: i for i in inspector.get_indexes("tasks")}
            # One user's matches come from the GIN index alone (btree_gin holds user_id).
            assert indexes["ix_tasks_search_vector_user"]["column_names"][0] == "user_id"
        else:
            assert "tasks_fts" in inspector.get_table_names()
            with engine.connect() as connection:
                triggers = connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                ).scalars()
                assert set(triggers) == {"tasks_fts_insert", "tasks_fts_update", "tasks_fts_delete"}
    finally:
        engine.dispose()


def test_downgrade_removes_everything_and_upgrade_restores_it(empty_database_url):
    migrate(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            command.downgrade(alembic_config(empty_database_url, connection), "base")
    finally:
        engine.dispose()
    assert table_names(empty_database_url) <= {"alembic_version"}

    migrate(empty_database_url)
    assert current_revision(empty_database_url) == HEAD


def test_an_upgrade_from_empty_is_one_transaction(empty_database_url):
    """Every migration and the version in one commit, on SQLite too (Alembic's default there is a
    commit per migration): a process starting beside it finds either nothing or the head, never
    a revision in between whose next migration it would run a second time."""
    commits: list[str] = []

    def count(connection: sa.Connection) -> None:
        commits.append(connection.engine.url.get_backend_name())

    sa.event.listen(sa.engine.Engine, "commit", count)
    try:
        migrate(empty_database_url)
    finally:
        sa.event.remove(sa.engine.Engine, "commit", count)

    assert current_revision(empty_database_url) == HEAD
    assert len(commits) == 1, commits


def test_processes_starting_together_all_migrate_safely(empty_database_url):
    """Every function migrates at start-up; `just up` starts them at once."""
    upgrade = [sys.executable, "-m", "taskflow.adapters.database", "upgrade", "--url"]
    processes = [
        subprocess.Popen(
            [*upgrade, empty_database_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outcomes = [process.communicate(timeout=120) for process in processes]

    for process, (_, stderr) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, stderr.decode()
    assert current_revision(empty_database_url) == HEAD
    # The printed location never shows the password.
    for stdout, _ in outcomes:
        assert b"at revision " + HEAD.encode() in stdout
        if "postgresql" in empty_database_url:
            assert b":taskflow@" not in stdout


@pytest.mark.parametrize("moment", ["2026-07-01T09:30:00+02:00", "2026-01-01T00:00:00+00:00"])
def test_datetimes_come_back_aware_and_in_utc(database_url, moment):
    stored = datetime.fromisoformat(moment)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(orm.processed_events).values(
                    consumer="c", event_id="e", result=None, processed_at=stored
                )
            )
            loaded = connection.execute(sa.select(orm.processed_events.c.processed_at)).scalar_one()
    finally:
        engine.dispose()

    assert loaded == stored
    assert loaded.tzinfo is not None and loaded.utcoffset().total_seconds() == 0
    assert loaded.astimezone(UTC) == loaded


def test_naive_datetimes_are_refused(database_url):
    engine = make_engine(database_url)
    try:
        with (
            pytest.raises(sa.exc.StatementError, match="naive datetime"),
            engine.begin() as connection,
        ):
            connection.execute(
                sa.insert(orm.processed_events).values(
                    consumer="c", event_id="e", processed_at=datetime(2026, 1, 1, 12, 0)
                )
            )
    finally:
        engine.dispose()
