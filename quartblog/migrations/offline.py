"""``alembic upgrade --sql``: the SQL of a range of revisions, rendered without a
database.  On SQLite, batch mode needs the table it rebuilds: ``SQLiteShadow`` runs the
script as it is written in an in-memory database and hands the rebuild the table from there."""

from __future__ import annotations

import contextlib
import io
import traceback
from pathlib import Path
from typing import Callable

from alembic.util import CommandError
from sqlalchemy.engine import make_url


def _failing_revision(exc: BaseException) -> str | None:
    """The migration file the error came from (its innermost frame in versions/)."""
    found = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        path = Path(frame.f_code.co_filename)
        if path.parent.name == "versions" and (path.parent.parent / "env.py").is_file():
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

    def __init__(self, context, target_metadata) -> None:
        import sqlite3

        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        self.raw = sqlite3.connect(":memory:")
        self.engine = create_engine("sqlite://", creator=lambda: self.raw, poolclass=StaticPool)
        self.buffer: io.StringIO | None = None
        self.done = 0
        self.context, self.target_metadata = context, target_metadata

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
        script = self.context.script
        migration_context = MigrationContext.configure(
            url=url, dialect_opts={"paramstyle": "named"},
            opts={"as_sql": True, "literal_binds": True, "output_buffer": buffer,
                  "target_metadata": self.target_metadata, "starting_rev": None, "destination_rev": start,
                  "fn": lambda rev, _context: script._upgrade_revs(start, rev)},
        )
        with Operations.context(migration_context):
            migration_context.run_migrations()
        self.catch_up()


def run_offline(context, configure: Callable[..., None], url: str, target_metadata, output) -> None:
    """Render the whole range into a buffer, then print it: a step that cannot be
    rendered without a database raises ``CommandError`` naming it, and nothing is printed."""
    sqlite = make_url(url).get_backend_name() == "sqlite"
    buffer = io.StringIO()
    configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, output_buffer=buffer)
    try:
        with contextlib.ExitStack() as stack:
            if sqlite:
                shadow = SQLiteShadow(context, target_metadata)
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
    output.write(sql)
    output.flush()
