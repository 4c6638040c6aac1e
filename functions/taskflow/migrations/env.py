"""Alembic environment. database.migrate() hands in an open connection; Alembic's command line
gets the URL from taskflow.config (DATABASE_URL)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from taskflow.adapters.database import declared_in_metadata, make_engine
from taskflow.adapters.orm import metadata
from taskflow.config import load_settings

# Any constant works; it only has to be the same in every process that migrates this database.
MIGRATION_LOCK_KEY = 7_314_159_265


def run_migrations(connection: sa.Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=sqlite,
        # The whole upgrade in one transaction on SQLite too (its DDL is transactional; Alembic
        # assumes not and commits after each migration). Per migration, a process starting
        # beside another could read the version between two of its commits and run the next
        # migration a second time ("no such index"), seen under load with every function
        # migrating at once.
        transactional_ddl=True,
        compare_type=True,
        include_object=declared_in_metadata,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Processes starting together queue here; each then reads the version table afresh
            # (READ COMMITTED) and finds nothing left to do. SQLite needs no lock of its own:
            # its transactions begin IMMEDIATE (database.make_engine), which serialises writers,
            # and the version is read inside the one transaction.
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = context.config.attributes.get("database_url") or load_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run against a database")
main()
