"""Online schema changes for migrations that run while the blog serves: minimal local
versions of the shared helpers (issue 12: ``quartblog/migrations/online.py`` and
``batches.py`` on the ``mig12``/``batch12`` branches), so that this test stands alone.

Every function takes the migration's ``op`` and runs its statements outside the
migration's transaction (``autocommit_block``), one short transaction each:

* DDL waits for a table's lock at most ``LOCK_WAIT_SECONDS`` (MariaDB
  ``lock_wait_timeout``, PostgreSQL ``lock_timeout``) and is tried again after a
  pause.  A DDL statement waiting for its lock queues every request behind it
  (MariaDB's metadata lock, PostgreSQL's ACCESS EXCLUSIVE lock), so a long
  transaction must never turn into a long wait of the whole site.
* MariaDB ALTERs name their algorithm (``INSTANT``, or ``INPLACE, LOCK=NONE``):
  the server refuses instead of silently copying the table with writes blocked.
* PostgreSQL builds and drops indexes ``CONCURRENTLY``.
* Each step checks first whether it is done (a column or index that exists), so a
  migration that stopped half-way is completed by running it again.
* Backfills go by primary-key ranges, one transaction per batch, progress printed.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

from alembic import op as alembic_op
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

LOCK_WAIT_SECONDS = 2
ATTEMPTS = 30
BATCH_ROWS = 2000

MYSQL_LOCK_ERRORS = {1205, 1213}        # lock wait timeout, deadlock
PG_LOCK_ERRORS = {"55P03", "40P01", "40001"}  # lock_not_available, deadlock, serialization


def say(message: str) -> None:
    print(f"[migration {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _dialect(conn: Connection) -> str:
    return conn.dialect.name


def _lock_error(exc: DBAPIError) -> bool:
    orig = exc.orig
    code = orig.args[0] if orig is not None and orig.args and isinstance(orig.args[0], int) else None
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code in MYSQL_LOCK_ERRORS or sqlstate in PG_LOCK_ERRORS or "database is locked" in str(orig)


def _session_settings(conn: Connection) -> None:
    dialect = _dialect(conn)
    if dialect in ("mysql", "mariadb"):
        conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")
        conn.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_SECONDS}")
        # No gap locks: a batch's UPDATE must not block the site's INSERTs after it.
        conn.exec_driver_sql("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    elif dialect == "postgresql":
        conn.exec_driver_sql(f"SET lock_timeout = '{LOCK_WAIT_SECONDS}s'")


def run(statement: str | Callable[[Connection], object], what: str | None = None, op=alembic_op):
    """One statement (or a function of the connection) in its own transaction, tried
    again while it fails for a lock (the lock wait is bounded, see above)."""
    with op.get_context().autocommit_block():
        conn = op.get_bind()
        _session_settings(conn)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                if callable(statement):
                    return statement(conn)
                return conn.exec_driver_sql(statement)
            except DBAPIError as exc:
                if not _lock_error(exc) or attempt == ATTEMPTS:
                    raise
                say(f"{what or statement}: {type(exc.orig).__name__} (lock), attempt {attempt + 1} in "
                    f"{min(attempt, 5) * 0.2:.1f} s")
                time.sleep(min(attempt, 5) * 0.2)


def _columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def _indexes(conn: Connection, table: str) -> set[str]:
    return {i["name"] for i in inspect(conn).get_indexes(table)}


def has_column(table: str, column: str, op=alembic_op) -> bool:
    return column in _columns(op.get_bind(), table)


def add_nullable_column(table: str, column: str, sql_type: str, op=alembic_op) -> None:
    """A NULL-able column without a default: the old release's INSERTs, which do not
    name it, keep working.  MariaDB: ALGORITHM=INSTANT (metadata only)."""
    if has_column(table, column, op):
        return
    dialect = _dialect(op.get_bind())
    statement = f"ALTER TABLE {table} ADD COLUMN {column} {sql_type} NULL"
    if dialect in ("mysql", "mariadb"):
        statement += ", ALGORITHM=INSTANT"
    run(statement, op=op)
    say(f"added {table}.{column}")


def drop_column(table: str, column: str, op=alembic_op) -> None:
    """Only for a column that no running release reads or writes (the contract step)."""
    if not has_column(table, column, op):
        return
    dialect = _dialect(op.get_bind())
    statement = f"ALTER TABLE {table} DROP COLUMN {column}"
    if dialect in ("mysql", "mariadb"):
        statement += ", ALGORITHM=INSTANT"
    run(statement, op=op)
    say(f"dropped {table}.{column}")


def create_index(name: str, table: str, columns: list[str], op=alembic_op) -> None:
    """MariaDB: ALGORITHM=INPLACE, LOCK=NONE (reads and writes go on while it builds).
    PostgreSQL: CONCURRENTLY; an invalid index left by a failed build is dropped first."""
    conn = op.get_bind()
    dialect = _dialect(conn)
    cols = ", ".join(columns)
    if dialect == "postgresql":
        invalid = run(lambda c: c.execute(text(
            "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name"), {"name": name}).scalar(), op=op)
        if invalid:
            run(f"DROP INDEX CONCURRENTLY IF EXISTS {name}", op=op)
        elif invalid is False:
            return
        run(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({cols})", op=op)
    else:
        if name in _indexes(conn, table):
            return
        statement = f"CREATE INDEX {name} ON {table} ({cols})"
        if dialect in ("mysql", "mariadb"):
            statement += " ALGORITHM=INPLACE LOCK=NONE"
        run(statement, op=op)
    say(f"created index {name} on {table} ({cols})")


def drop_index(name: str, table: str, op=alembic_op) -> None:
    conn = op.get_bind()
    dialect = _dialect(conn)
    if dialect == "postgresql":
        run(f"DROP INDEX CONCURRENTLY IF EXISTS {name}", op=op)
    else:
        if name not in _indexes(conn, table):
            return
        statement = f"ALTER TABLE {table} DROP INDEX {name}, ALGORITHM=INPLACE, LOCK=NONE" \
            if dialect in ("mysql", "mariadb") else f"DROP INDEX {name}"
        run(statement, op=op)
    say(f"dropped index {name}")


def backfill(table: str, assignments: str, where: str, op=alembic_op, batch: int = BATCH_ROWS) -> int:
    """``UPDATE table SET assignments WHERE where`` by primary-key ranges of ``batch``
    ids, each range its own transaction; returns the rows changed.  ``where`` must
    select only rows still to do (``new IS NULL``): run again, it skips what is done."""
    bounds = run(lambda c: c.execute(text(f"SELECT MIN(id), MAX(id) FROM {table}")).one(), op=op)
    low, high = bounds
    if low is None:
        return 0
    done = 0
    started = time.monotonic()
    statement = text(f"UPDATE {table} SET {assignments} WHERE id >= :low AND id < :high AND ({where})")
    for start in range(low, high + 1, batch):
        done += run(lambda c: c.execute(statement, {"low": start, "high": start + batch}).rowcount,
                    what=f"backfill {table} ids {start}..", op=op)
        if (start - low) // batch % 10 == 9 or start + batch > high:
            say(f"backfill {table}: ids up to {min(start + batch - 1, high)} of {high}, {done} rows "
                f"changed, {time.monotonic() - started:.1f} s")
    return done
