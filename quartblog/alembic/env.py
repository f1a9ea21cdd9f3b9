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
import contextlib
import io
import sys
import traceback
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from alembic.util import CommandError
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from quartblog.config import Settings
from quartblog.db import create_engine, default_database_url, normalize_url, set_write_intent
from quartblog.migrations import compare_server_default, default_instance_path, include_object_for
from quartblog.alembic.online import use_online_ddl
from quartblog.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    if not config.attributes.get("connection"):
        fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    url = (config.attributes.get("database_url") or Settings.from_env().DATABASE_URL
           or config.get_main_option("sqlalchemy.url"))
    if not url:
        url = default_database_url(default_instance_path())
    return normalize_url(url).render_as_string(hide_password=False)


def write_revision(context, revision, directives) -> None:
    """What autogenerate writes: tables dropped with their indexes, and columns and
    indexes of existing tables changed with the online helpers (online.py)."""
    drop_tables_with_their_indexes(context, revision, directives)
    for script in directives:
        for container in [*script.upgrade_ops_list, *script.downgrade_ops_list]:
            use_online_ddl(container)


def drop_tables_with_their_indexes(context, revision, directives) -> None:
    """Autogenerate writes ``drop_index`` for each index of a table before its
    ``drop_table``; MySQL/MariaDB refuse to drop an index a foreign key needs ("Cannot
    drop index ... needed in a foreign key constraint"), so the downgrade of a new
    model would fail there.  Dropping the table drops its indexes: leave them out."""
    from alembic.operations import ops

    for script in directives:
        for container in [*script.upgrade_ops_list, *script.downgrade_ops_list]:
            dropped = {op.table_name for op in container.ops if isinstance(op, ops.DropTableOp)}
            kept = []
            for op in container.ops:
                if isinstance(op, ops.ModifyTableOps) and op.table_name in dropped:
                    op.ops = [o for o in op.ops if not isinstance(o, ops.DropIndexOp)]
                    if not op.ops:
                        continue
                elif isinstance(op, ops.DropIndexOp) and op.table_name in dropped:
                    continue
                kept.append(op)
            container.ops = kept


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


def _failing_revision(exc: BaseException) -> str | None:
    """The migration file the error came from (its innermost frame in versions/)."""
    versions = Path(__file__).resolve().parent / "versions"
    found = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        path = Path(frame.f_code.co_filename)
        if path.parent == versions:
            found = path.stem
    return found


class SQLiteShadow:
    """An in-memory SQLite database that follows the offline script as it is written.

    On SQLite, batch mode changes a table by rebuilding it, and to rebuild it Alembic
    must know the whole table; online it reads it from the database, offline it has
    none ("batch mode ... requires a live database connection").  The shadow has run
    every statement of the script so far, so it holds the table exactly as the real
    database will at that point: the rebuild reads it from there.  Before a range
    that does not start at base (``downgrade 0005:base``, ``upgrade 0002:head``) the
    shadow is first brought to the range's start the same way."""

    def __init__(self) -> None:
        import sqlite3

        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        self.raw = sqlite3.connect(":memory:")
        self.engine = create_engine("sqlite://", creator=lambda: self.raw, poolclass=StaticPool)
        self.buffer: io.StringIO | None = None
        self.done = 0

    def follow(self, buffer: io.StringIO) -> None:
        self.buffer, self.done = buffer, 0

    def catch_up(self) -> None:
        assert self.buffer is not None
        script = self.buffer.getvalue()[self.done:]
        self.raw.executescript(script)
        self.done += len(script)

    def table(self, name: str, *args, **kwargs):
        from sqlalchemy import MetaData, Table

        self.catch_up()
        with self.engine.connect() as connection:
            return Table(name, MetaData(), *args, autoload_with=connection, **kwargs)

    @contextlib.contextmanager
    def reflecting(self):
        """Batch operations without ``copy_from`` read their table from the shadow."""
        from alembic.operations.batch import BatchOperationsImpl

        flush = BatchOperationsImpl.flush
        shadow = self

        def flush_with_shadow(batch: BatchOperationsImpl) -> None:
            if batch.copy_from is None and batch._should_recreate():
                try:
                    batch.copy_from = shadow.table(batch.table_name, *batch.reflect_args, **batch.reflect_kwargs)
                except Exception:  # the script so far does not run on SQLite: Alembic's own error follows
                    pass
            flush(batch)

        BatchOperationsImpl.flush = flush_with_shadow
        try:
            yield
        finally:
            BatchOperationsImpl.flush = flush

    def prime(self, url: str, start: str) -> None:
        """Bring the shadow to revision ``start``: render base..start offline into it."""
        from alembic.operations import Operations
        from alembic.runtime.migration import MigrationContext

        buffer = io.StringIO()
        self.follow(buffer)
        script = context.script
        migration_context = MigrationContext.configure(
            url=url, dialect_opts={"paramstyle": "named"},
            opts={"as_sql": True, "literal_binds": True, "output_buffer": buffer,
                  "target_metadata": target_metadata, "starting_rev": None, "destination_rev": start,
                  "fn": lambda rev, _context: script._upgrade_revs(start, rev)},
        )
        with Operations.context(migration_context):
            migration_context.run_migrations()
        self.catch_up()


def run_migrations_offline() -> None:
    url = database_url()
    sqlite = make_url(url).get_backend_name() == "sqlite"
    buffer = io.StringIO()
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, output_buffer=buffer)
    try:
        with contextlib.ExitStack() as stack:
            if sqlite:
                shadow = SQLiteShadow()
                stack.enter_context(shadow.reflecting())
                start = context.get_starting_revision_argument()
                if start not in (None, "base"):
                    shadow.prime(url, start)
                shadow.follow(buffer)
            with context.begin_transaction():
                context.run_migrations()
    except Exception as exc:  # a step that needs a live database (it reads rows, say)
        where = _failing_revision(exc)
        raise CommandError(
            f"cannot render the SQL offline{f' for migration {where}' if where else ''} "
            f"({make_url(url).get_backend_name()}): {type(exc).__name__}: {exc}  No SQL was "
            "printed. Run this step against a database, or give it an offline branch "
            "(if context.is_offline_mode(): ...), as migration 0003 does for its data."
        ) from exc
    sql = buffer.getvalue()
    if sqlite:
        # As online (do_run_migrations): a batch rebuild DROPs a table, which with
        # foreign keys enforced would cascade to the rows that point at it.
        sql = f"PRAGMA foreign_keys=OFF;\n\n{sql}PRAGMA foreign_keys=ON;\n\n"
    output = config.output_buffer or sys.stdout
    output.write(sql)
    output.flush()


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
    run_migrations_offline()
else:
    run_migrations_online()
