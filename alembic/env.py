"""Alembic environment for quartblog, written for the async engine.

* The URL: the caller's (``quart --app quartblog db ...`` passes the app's), else
  ``QUARTBLOG_DATABASE_URL``, else ``sqlalchemy.url`` in alembic.ini, else the app's
  default SQLite file in its instance folder.
* Only the models and the engine helpers are imported, never the app: ``alembic``
  works without a secret key in production, and starts fast.
* Online: an ``AsyncEngine`` from the same settings the app uses; the migrations
  run inside ``await connection.run_sync(...)``.  A caller that already holds a
  connection (the app's auto-migrate, the tests) passes it in
  ``config.attributes["connection"]`` and it is used as is (a transaction it had
  begun, for its lock, is committed first: the migrations own their transaction, so
  ``autocommit_block()``, which PostgreSQL's ``CREATE INDEX CONCURRENTLY`` needs, works).
  An ``AsyncEngine`` there (pytest-alembic's ``alembic_engine``, its documented asyncio
  recipe) is run with ``asyncio.run`` and its pool disposed afterwards.
* SQLite gets batch mode (ALTER TABLE by copy-and-move).
* Offline (``alembic upgrade head --sql``) renders the whole range first and prints
  it only when every step rendered: a step that cannot be rendered without a
  database stops the command with one message naming it, and nothing is printed.
"""

from __future__ import annotations

import asyncio
import sys
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic.util import CommandError

from quartblog.config import ConfigError, Settings, check_database_url
from quartblog.db import create_engine, default_database_url, normalize_url, set_write_intent
from quartblog.migrations import compare_server_default, default_instance_path, include_object_for
from quartblog.migrations.autogenerate import write_revision
from quartblog.migrations.offline import run_offline
from quartblog.migrations.renumbered import restamp
from quartblog.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    if not config.attributes.get("connection"):
        fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    url = (config.attributes.get("database_url") or Settings.from_env().DATABASE_URL
           or config.get_main_option("sqlalchemy.url"))
    try:
        url = check_database_url(url) or default_database_url(default_instance_path())
    except ConfigError as exc:  # alembic prints a CommandError as one line: FAILED: ...
        raise CommandError(str(exc)) from exc
    return normalize_url(url).render_as_string(hide_password=False)


def _configure(connection: Connection | None = None, **kwargs) -> None:
    dialect = connection.dialect.name if connection is not None else make_url(database_url()).get_backend_name()
    context.configure(
        include_object=include_object_for(dialect),
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=compare_server_default,  # a changed default is a migration too
        render_as_batch=True,  # SQLite needs copy-and-move for ALTER; harmless elsewhere
        user_module_prefix="quartblog.types.",
        process_revision_directives=write_revision,
        connection=connection,
        **kwargs,
    )


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """PRAGMA foreign_keys only works outside a transaction: run it on the raw
    DBAPI connection, after committing what the connection had begun."""
    if connection.in_transaction():
        connection.commit()
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


def do_run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if connection.in_transaction():
        # The caller's own statements (its migration lock): commit them, so that the
        # migrations run in a transaction of alembic's, which autocommit_block() can end.
        connection.commit()
    if sqlite:
        # Batch mode rebuilds a table (copy, DROP, rename); with foreign keys
        # enforced the DROP would cascade and delete the rows that point at it.
        _sqlite_foreign_keys(connection, on=False)
    try:
        _configure(connection)
        with context.begin_transaction():
            restamp(connection)  # a stamp of the old numbering (quartblog/migrations/renumbered.py)
            context.run_migrations()
    except BaseException:
        if sqlite:  # SQLite's DDL is transactional: a failed migration leaves nothing behind
            connection.rollback()
            _sqlite_foreign_keys(connection, on=True)
        raise
    if sqlite:
        _sqlite_foreign_keys(connection, on=True)


async def run_async_migrations(engine: AsyncEngine | None = None) -> None:
    if engine is None:
        engine = create_engine(database_url(), statement_timeout=0)  # DDL may take long
    # A migration writes: on SQLite its transactions begin IMMEDIATE and wait their turn
    # (busy timeout) behind the site's writers instead of failing "database is locked".
    set_write_intent(True)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()  # its connections belong to this event loop


def run_migrations_online() -> None:
    from sqlalchemy.ext.asyncio import AsyncEngine

    connection = config.attributes.get("connection")
    if isinstance(connection, AsyncEngine):
        asyncio.run(run_async_migrations(connection))
    elif connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_offline(context, _configure, database_url(), target_metadata, config.output_buffer or sys.stdout)
else:
    run_migrations_online()
