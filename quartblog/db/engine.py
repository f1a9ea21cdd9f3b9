"""The engine: one ``AsyncEngine`` per process, made from the app's settings, with the
drivers' connect and statement timeouts, utf8mb4 on MySQL/MariaDB (READ COMMITTED,
docs/architecture.md says why), and SQLite's pragmas (WAL, foreign keys, ``BEGIN
IMMEDIATE`` for a request that may write, so two writers queue instead of failing)."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..types import MYSQL_DIALECTS
from .limits import limit_selects
from .outages import quiet_pool_outages

# Whether the current request may write: SQLite then begins with BEGIN IMMEDIATE.
_writing: ContextVar[bool] = ContextVar("quartblog_writing", default=False)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def write_intent() -> bool:
    return _writing.get()


def set_write_intent(writing: bool) -> None:
    """Will this task's transactions write? (SQLite then begins with BEGIN IMMEDIATE.)
    The unit of work sets it per request: true unless GET, HEAD or OPTIONS."""
    _writing.set(writing)


def default_database_url(instance_path: str | Path) -> str:
    path = Path(instance_path) / "quartblog.db"
    return f"sqlite+aiosqlite:///{path}"


def normalize_url(url: str | URL) -> URL:
    """MySQL/MariaDB connections always speak utf8mb4 (emoji, CJK)."""
    url = make_url(url)
    if url.get_backend_name() in MYSQL_DIALECTS and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def masked(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def create_engine(url: str | URL, *, pool_size: int = 20, max_overflow: int = 0,
                  pool_recycle: int = 3600, echo: bool = False,
                  connect_timeout: float = 5, statement_timeout: float = 30) -> AsyncEngine:
    """The engine; ``connect_timeout`` bounds a connection attempt and
    ``statement_timeout`` (0: off) each statement, on the server, so that a database
    that hangs fails requests (503) instead of holding them."""
    url = normalize_url(url)
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo}
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # One file, many readers, one writer: wait for the lock instead of failing at once.
        connect_args["timeout"] = 30
    else:
        kwargs.update(
            # A pooled connection that died (an outage, a restart, wait_timeout) is
            # replaced, no restart needed: a request that may write pings it at
            # checkout (_ping_before_writing); a request that only reads skips the
            # round trip and, if the connection turns out dead, runs again on a new
            # one (unit_of_work.is_retryable: reading twice is harmless).
            pool_recycle=pool_recycle,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        if backend in MYSQL_DIALECTS:
            # Each statement reads the newest committed rows, and InnoDB takes no gap
            # locks: a retried slug or tag sees the row that beat it, and concurrent
            # inserts do not deadlock on each other's gaps.
            kwargs["isolation_level"] = "READ COMMITTED"
    # The server stops a statement after statement_timeout (503); the client gives up
    # a little later, for a server that hangs instead of answering (asyncmy's
    # read_timeout, asyncpg's command_timeout; aiomysql has no such setting).
    client_timeout = statement_timeout + connect_timeout if statement_timeout else None
    if backend in MYSQL_DIALECTS:
        connect_args["connect_timeout"] = connect_timeout  # asyncmy, aiomysql
        if url.get_driver_name() == "asyncmy" and client_timeout:
            connect_args["read_timeout"] = client_timeout
    elif backend == "postgresql":
        connect_args["timeout"] = connect_timeout  # asyncpg
        if statement_timeout:
            connect_args["server_settings"] = {"statement_timeout": str(int(statement_timeout * 1000))}
            connect_args["command_timeout"] = client_timeout
    kwargs["connect_args"] = connect_args
    engine = create_async_engine(url, **kwargs)
    quiet_pool_outages(engine)
    if backend != "sqlite":
        dialect = engine.dialect

        def _ping_before_writing(dbapi_connection, _record, _proxy) -> None:
            """SQLAlchemy's pessimistic disconnect handling, for requests that may
            write: a write must not fail half-way on a connection that was dead."""
            if not _writing.get():
                return
            try:
                alive = dialect.do_ping(dbapi_connection)
            except Exception as exc:  # the driver's own error for a dead socket
                raise sa_exc.DisconnectionError(str(exc)) from exc
            if not alive:
                raise sa_exc.DisconnectionError("the pooled connection is gone")

        event.listen(engine.sync_engine.pool, "checkout", _ping_before_writing)
    if backend != "sqlite" and connect_timeout:
        _bound_connect(engine, connect_timeout)
    if backend in MYSQL_DIALECTS:  # a SELECT's own time limit (db/limits.py)
        event.listen(engine.sync_engine, "before_cursor_execute", limit_selects, retval=True)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    elif backend in MYSQL_DIALECTS and statement_timeout:
        dialect = engine.dialect

        def _mysql_statement_timeout(dbapi_connection, _record) -> None:
            # The dialect knows the server by now (first_connect runs before connect).
            if dialect.is_mariadb:
                sql = f"SET SESSION max_statement_time = {float(statement_timeout)}"
            else:  # MySQL limits SELECTs only, in milliseconds
                sql = f"SET SESSION max_execution_time = {int(statement_timeout * 1000)}"
            cursor = dbapi_connection.cursor()
            cursor.execute(sql)
            cursor.close()

        event.listen(engine.sync_engine, "connect", _mysql_statement_timeout)
    return engine


def _bound_connect(engine: AsyncEngine, seconds: float) -> None:
    """asyncmy's and aiomysql's ``connect_timeout`` covers opening the socket, not
    the server's greeting and the log-in: a server that accepts connections and then
    hangs (stopped, swapping) would hold the request for ever.  Bound the whole
    connect; the TimeoutError is an outage (``is_unavailable``)."""
    driver_connect = getattr(getattr(engine.dialect.loaded_dbapi, engine.dialect.driver, None), "connect", None)
    if driver_connect is None:  # another adapter: its own timeout only
        return

    def bounded(*args: Any, **kwargs: Any):
        return asyncio.wait_for(driver_connect(*args, **kwargs), seconds)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _use_bounded_connect(_dialect, _record, _cargs, cparams) -> None:
        cparams.setdefault("async_creator_fn", bounded)


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # The sqlite3 module's own transaction handling breaks SAVEPOINTs (a RELEASE
    # would commit); SQLAlchemy emits BEGIN itself instead (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE, as on MySQL
    cursor.execute("PRAGMA synchronous=NORMAL")
    # WAL: readers do not block the writer.  The mode is kept in the file, and
    # switching needs the database to itself: when another connection holds a lock
    # (a migration at start-up), leave it to a later connection.
    cursor.execute("PRAGMA journal_mode")
    if cursor.fetchone()[0] != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception as exc:  # sqlite3.OperationalError through the async adapter
            if "locked" not in str(exc):
                raise
    cursor.close()


def _sqlite_on_begin(connection) -> None:
    # A reader that later writes fails at once with "database is locked" when another
    # connection committed meanwhile (WAL snapshots cannot be upgraded); a request that
    # may write takes the write lock up front and waits its turn (busy timeout).
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _writing.get() else "BEGIN")


def engine_from_config(config: dict[str, Any], instance_path: str | Path) -> AsyncEngine:
    return create_engine(
        config.get("DATABASE_URL") or default_database_url(instance_path),
        pool_size=config["DB_POOL_SIZE"],
        max_overflow=config["DB_MAX_OVERFLOW"],
        pool_recycle=config["DB_POOL_RECYCLE"],
        echo=config["DB_ECHO"],
        connect_timeout=config["DB_CONNECT_TIMEOUT"],
        statement_timeout=config["DB_STATEMENT_TIMEOUT"],
    )


