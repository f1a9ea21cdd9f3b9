"""The engine and the session lifecycle.

* One ``AsyncEngine`` per process: created when the app starts serving, disposed
  when it stops (``init_app`` wires that up).
* One ``AsyncSession`` per request, opened on first use through ``get_session()``;
  committed when the view succeeds (a response below 400), rolled back on an
  error response or an exception, always closed.  ``quartblog.unit_of_work`` calls
  ``finish_request`` once the response is made, and runs the whole request again
  in a new session when the database refuses it for a concurrency reason.
* MySQL/MariaDB sessions run at READ COMMITTED (docs/architecture.md says why);
  on SQLite a request that may write (not GET/HEAD/OPTIONS) takes the write lock
  at BEGIN (``BEGIN IMMEDIATE``), so two writers queue instead of failing.
* A session notes whether it changed what pages show (``changed_content``); the
  response cache forgets its pages only after such a change is committed.
* Outages: ``is_unavailable(exc)`` recognises "the database cannot be reached"
  errors of every driver and ``is_busy(exc)`` a statement that ran out of time;
  both are answered 503 with Retry-After (``quartblog/errors.py``).  ``OutageLog``
  logs one warning when an outage begins and one line when it ends.  The app
  starts while the database is down and checks the schema's revision on the
  first request that reaches it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, UOWTransaction

if TYPE_CHECKING:  # Quart is imported where it is used: alembic's env.py needs only the engine
    from quart import Quart, Response

EXTENSION_KEY = "quartblog.db"
SQL_COUNT_HEADER = "X-SQL-Statements"

# The statements run by the current request, when SQL_COUNT_HEADER is on.
_statement_counter: ContextVar[list[int] | None] = ContextVar("quartblog_sql_count", default=None)
# Whether the current request may write: SQLite then begins with BEGIN IMMEDIATE.
_writing: ContextVar[bool] = ContextVar("quartblog_writing", default=False)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Tables whose rows no page or API response shows: writing them leaves cached
# responses valid.  Every other table's writes invalidate them.
CACHE_NEUTRAL_TABLES = frozenset({"sign_ins", "uploads"})
# An execution option that marks a statement as changing nothing a cached page
# shows (e.g. a visit counter): ``execution_options(changes_content=False)``.
CHANGES_CONTENT = "changes_content"


log = logging.getLogger(__name__)

# What a 503 asks clients to wait before trying again, in seconds.
RETRY_AFTER_SECONDS = 5


class SchemaNotReady(RuntimeError):
    """The schema's check is running, or failed a moment ago: try again shortly."""


class DatabaseUnavailable(RuntimeError):
    """The database refuses the app at start-up for a reason that waiting will not
    fix (wrong credentials, no such database ...)."""


# MySQL/MariaDB error codes (the first argument of the drivers' errors) meaning the
# server cannot be reached or cannot take the connection now.
MYSQL_UNAVAILABLE = frozenset({
    1040,  # ER_CON_COUNT_ERROR: too many connections
    1053,  # ER_SERVER_SHUTDOWN: server shutdown in progress
    1203,  # ER_TOO_MANY_USER_CONNECTIONS
    1927,  # ER_CONNECTION_KILLED (MariaDB)
    2002,  # CR_CONNECTION_ERROR: cannot connect through the socket
    2003,  # CR_CONN_HOST_ERROR: cannot connect (refused, timed out)
    2005,  # CR_UNKNOWN_HOST: the name does not resolve (yet)
    2006,  # CR_SERVER_GONE_ERROR: server has gone away
    2013,  # CR_SERVER_LOST: lost connection during query
    2055,  # CR_SERVER_LOST_EXTENDED
    4031,  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8): disconnected by the server
})
# A statement stopped by the statement time limit (QUARTBLOG_DB_STATEMENT_TIMEOUT).
MYSQL_STATEMENT_TIMEOUT = frozenset({
    1969,  # ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
    3024,  # ER_QUERY_TIMEOUT (MySQL max_execution_time)
})
# PostgreSQL SQLSTATEs: class 08 (connection exception) and these.
PG_UNAVAILABLE = frozenset({
    "53300",  # too_many_connections
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, recovering)
})
PG_STATEMENT_TIMEOUT = "57014"  # query_canceled (statement_timeout)
# SQLite result codes (low byte) of a file that cannot be opened or read.
SQLITE_UNAVAILABLE = frozenset({10, 14})  # SQLITE_IOERR, SQLITE_CANTOPEN


# refused, reset, aborted, broken pipe; a connect that timed out; a name that does not resolve
_NETWORK_ERRORS = (ConnectionError, TimeoutError, socket.gaierror)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, the driver error SQLAlchemy wrapped (``.orig``) and their causes."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 8:
        err = todo.pop(0)
        if err is None or any(err is s for s in seen):
            continue
        seen.append(err)
        todo += [getattr(err, "orig", None), err.__cause__]
    return seen


def _codes(exc: BaseException) -> tuple[int | None, str | None, int | None]:
    """(MySQL error code, PostgreSQL SQLSTATE, SQLite result code) of a driver error."""
    mysql = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    sqlite = getattr(exc, "sqlite_errorcode", None)
    return mysql, sqlstate if isinstance(sqlstate, str) else None, sqlite


def _driver_errors(exc: BaseException) -> list[BaseException]:
    """The driver's own errors inside ``exc`` (the ``.orig`` of a SQLAlchemy
    DBAPIError and its causes): only their first argument is an error code."""
    if not isinstance(exc, sa_exc.DBAPIError) or exc.orig is None:
        return []
    return _causes(exc.orig)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached now (refused, lost,
    gone away, timed out connecting, too many connections, shutting down ...),
    for asyncmy, aiomysql, asyncpg and aiosqlite errors as SQLAlchemy wraps them,
    and for the network errors some drivers raise unwrapped.  Deadlocks and lock
    waits are not outages."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    # Network errors: raised as they are (asyncpg's connect, a bounded connect that
    # timed out) or inside a driver error.  Not looked for in the causes of other
    # errors: a Redis client's connection error is no database outage.
    if isinstance(exc, _NETWORK_ERRORS):
        return True
    for err in _driver_errors(exc):
        if isinstance(err, _NETWORK_ERRORS):
            return True
        mysql, sqlstate, sqlite = _codes(err)
        if mysql in MYSQL_UNAVAILABLE:
            return True
        if sqlstate is not None and (sqlstate.startswith("08") or sqlstate in PG_UNAVAILABLE):
            return True
        if sqlite is not None and sqlite & 0xFF in SQLITE_UNAVAILABLE:
            return True
    return False


def is_busy(exc: BaseException) -> bool:
    """True when the database is reachable but could not answer in time: a
    statement stopped by the statement time limit, or no pooled connection free
    within the pool's timeout."""
    if isinstance(exc, sa_exc.TimeoutError):  # QueuePool limit reached
        return True
    for err in _driver_errors(exc):
        mysql, sqlstate, _ = _codes(err)
        if mysql in MYSQL_STATEMENT_TIMEOUT or sqlstate == PG_STATEMENT_TIMEOUT:
            return True
    return False


class _QuietOutage(logging.Filter):
    """Drops the pool's tracebacks of connections it could not reset or close because
    the database went away: expected in an outage, which ``OutageLog`` reports once."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        # the pool logs the driver's own error, unwrapped: wrap it as SQLAlchemy would
        return not (is_unavailable(exc) or is_unavailable(sa_exc.DBAPIError(None, None, exc)))


def _quiet_pool_outages(engine: AsyncEngine) -> None:
    logger = engine.sync_engine.pool.logger
    if isinstance(logger, logging.Logger) and not any(isinstance(f, _QuietOutage) for f in logger.filters):
        logger.addFilter(_QuietOutage())


def describe(exc: BaseException) -> str:
    """The cause of a database error in one line (the driver's message)."""
    err = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    if not str(err):  # a TimeoutError says nothing
        return f"{type(err).__name__} (no answer in time)"
    return f"{type(err).__name__}: {err}".splitlines()[0]


class OutageLog:
    """Whether this process last found the database reachable: the first failure
    of an outage logs one warning (no traceback), the following ones are counted
    silently, and the first success afterwards logs one line."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.clock = clock
        self.down_since: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException, *, starting: bool = False) -> None:
        self.failures += 1
        if self.down_since is not None:
            return
        self.down_since = self.clock()
        if starting:
            log.warning("the database at %s cannot be reached at start-up (%s): starting anyway, "
                        "answering 503 until it is back", self.url, describe(exc))
        else:
            log.warning("the database at %s is unavailable (%s): answering 503 until it is back",
                        self.url, describe(exc))

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        log.info("the database at %s is back after %.1f s (%d failures meanwhile)",
                 self.url, self.clock() - self.down_since, self.failures)
        self.down_since = None
        self.failures = 0


def default_database_url(instance_path: str | Path) -> str:
    path = Path(instance_path) / "quartblog.db"
    return f"sqlite+aiosqlite:///{path}"


def normalize_url(url: str | URL) -> URL:
    """MySQL/MariaDB connections always speak utf8mb4 (emoji, CJK)."""
    url = make_url(url)
    if url.get_backend_name() in ("mysql", "mariadb") and "charset" not in url.query:
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
        if backend in ("mysql", "mariadb"):
            # Each statement reads the newest committed rows, and InnoDB takes no gap
            # locks: a retried slug or tag sees the row that beat it, and concurrent
            # inserts do not deadlock on each other's gaps.
            kwargs["isolation_level"] = "READ COMMITTED"
    # The server stops a statement after statement_timeout (503); the client gives up
    # a little later, for a server that hangs instead of answering (asyncmy's
    # read_timeout, asyncpg's command_timeout; aiomysql has no such setting).
    client_timeout = statement_timeout + connect_timeout if statement_timeout else None
    if backend in ("mysql", "mariadb"):
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
    _quiet_pool_outages(engine)
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
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    elif backend in ("mysql", "mariadb") and statement_timeout:
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


class BlogSession(Session):
    """The ORM session behind every AsyncSession: notes content changes (see module)."""


@event.listens_for(BlogSession, "after_flush")
def _note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
    session.info["wrote"] = True
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(getattr(obj, "__table__", None), "name", None)
        if table not in CACHE_NEUTRAL_TABLES and (obj not in session.dirty or session.is_modified(obj)):
            session.info["changed_content"] = True
            return


@event.listens_for(BlogSession, "do_orm_execute")
def _note_executed_changes(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    state.session.info["wrote"] = True
    if state.execution_options.get(CHANGES_CONTENT, True) is False:
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table not in CACHE_NEUTRAL_TABLES:
        state.session.info["changed_content"] = True


def changed_content(session: AsyncSession) -> bool:
    return bool(session.sync_session.info.get("changed_content"))


async def read_rows(session: AsyncSession, statement: Any, params: dict[str, Any] | None = None):
    """The rows of a SELECT of plain columns (no ORM entities), run on the session's
    connection: a list builds plain rows, and the ORM's result processing costs more
    than the rows are worth there.  Pending ORM changes are flushed first, as
    ``session.execute`` would."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    return await connection.execute(statement, params)


# Work outside the database that must follow a commit, never a rollback (removing a
# stored file: a rolled-back deletion must find its files where they were).
_AFTER_COMMIT, _COMMITTED = "after_commit", "after_commit_ready"


def after_commit(session: AsyncSession, callback: Callable[[], Any]) -> None:
    """Run ``callback`` (an async function without arguments) once the session's current
    transaction is committed; drop it if the transaction is rolled back.  The request's
    session runs it right after the commit (``finish_request``); another session's owner
    calls ``run_after_commit`` after committing."""
    session.sync_session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(BlogSession, "after_commit")
def _commit_callbacks(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's release is no commit
        session.info.setdefault(_COMMITTED, []).extend(session.info.pop(_AFTER_COMMIT, []))


@event.listens_for(BlogSession, "after_transaction_end")
def _drop_callbacks(session: Session, transaction) -> None:
    if transaction.parent is None:  # rolled back or closed: what it had to do is off
        session.info.pop(_AFTER_COMMIT, None)


async def run_after_commit(session: AsyncSession) -> None:
    """Run the callbacks of committed transactions (``after_commit``).  The data is
    committed already: a failing callback is logged, not raised."""
    callbacks = session.sync_session.info.pop(_COMMITTED, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:  # noqa: BLE001 - e.g. a file that could not be removed
            log.warning("after commit: %r failed", callback, exc_info=True)


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


class Database:
    """The app's engine and session factory (``app.extensions["quartblog.db"]``)."""

    def __init__(self, app: Quart) -> None:
        self.app = app
        self._engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.outage = OutageLog(masked(self.url))
        # The schema's revision was compared with the code's (start-up, or the first
        # request that reached the database when it was down at start-up).
        self.schema_checked = False
        self.schema_problem: str | None = None
        self._next_schema_check = 0.0
        self._schema_lock = asyncio.Lock()

    @property
    def url(self) -> str:
        return self.app.config.get("DATABASE_URL") or default_database_url(self.app.instance_path)

    @property
    def engine(self) -> AsyncEngine:
        """The engine, created on first use (start-up, or a CLI command)."""
        if self._engine is None:
            self._engine = engine_from_config(self.app.config, self.app.instance_path)
            if self.app.config.get("SQL_COUNT_HEADER"):
                event.listen(self._engine.sync_engine, "before_cursor_execute", _count_statement)
            # A new connection after an outage: it is over (pooled ones were dropped).
            event.listen(self._engine.sync_engine, "connect", lambda *_: self.outage.succeeded())
            self.sessionmaker = async_sessionmaker(self._engine, expire_on_commit=False,
                                                   sync_session_class=BlogSession)
        return self._engine

    def session(self) -> AsyncSession:
        self.engine  # noqa: B018 - make sure the factory exists
        assert self.sessionmaker is not None
        return self.sessionmaker()

    def note_failure(self, exc: BaseException) -> bool:
        """True when ``exc`` is answered 503: an outage (logged once, see
        ``OutageLog``) or a statement out of time (one warning line each)."""
        if is_unavailable(exc):
            self.outage.failed(exc)
            return True
        if is_busy(exc):
            from quart import has_request_context, request

            where = f"{request.method} {request.path}" if has_request_context() else "a background task"
            log.warning("a database statement ran out of time on %s: %s", where, describe(exc))
            return True
        return False

    async def check_schema(self, *, report: bool = True) -> None:
        """Compare the database's revision with the code's (upgrading it with
        AUTO_MIGRATE) until that succeeds once.  An outage error propagates.  Any
        other failure (a schema behind head: ``SchemaOutOfDate``; a failed migration)
        is logged once (unless ``report`` is false: start-up reports it itself) and
        raised; the check runs again at most every
        RETRY_AFTER_SECONDS (``alembic upgrade head`` needs no restart), and in
        between, or while another request runs it, ``SchemaNotReady`` is raised."""
        if self.schema_checked:
            return
        if self._schema_lock.locked():
            raise SchemaNotReady("the schema is being checked (or upgraded)")
        if self.schema_problem is not None and time.monotonic() < self._next_schema_check:
            raise SchemaNotReady(self.schema_problem)
        from .migrations import SchemaOutOfDate, ensure_schema_current

        async with self._schema_lock:
            try:
                await ensure_schema_current(self.app, self)
            except Exception as exc:
                if is_unavailable(exc):
                    raise
                self._next_schema_check = time.monotonic() + RETRY_AFTER_SECONDS
                if report and str(exc) != self.schema_problem:
                    if isinstance(exc, (SchemaOutOfDate, DatabaseUnavailable)):
                        log.error("%s", exc)
                    else:
                        log.exception("the database schema check failed")
                self.schema_problem = str(exc)
                raise
            self.schema_checked = True
            self.schema_problem = None

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
            self.sessionmaker = None


def _count_statement(conn, cursor, statement, *_args) -> None:
    counter = _statement_counter.get()
    if counter is not None and not statement.startswith("BEGIN"):
        counter[0] += 1


def get_db(app: Quart | None = None) -> Database:
    from quart import current_app

    return (app or current_app).extensions[EXTENSION_KEY]


def get_session() -> AsyncSession:
    """The request's session, opened on first use."""
    from quart import g

    session = g.get("db_session")
    if session is None:
        session = get_db().session()
        g.db_session = session
    return session


def write_intent() -> bool:
    return _writing.get()


def set_write_intent(writing: bool) -> None:
    """Will this task's transactions write? (SQLite then begins with BEGIN IMMEDIATE.)
    The unit of work sets it per request: true unless GET, HEAD or OPTIONS."""
    _writing.set(writing)


async def discard_request_session() -> None:
    """Roll back and close the request's session: the next attempt opens a new one."""
    from quart import g

    session: AsyncSession | None = g.pop("db_session", None)
    if session is not None:
        try:
            await session.rollback()
        finally:
            await session.close()


async def finish_request(response: Response) -> None:
    """Commit the request's work (rolled back for an error response), then tell the
    cache what changed, and report the statement count.  A request that wrote
    nothing has nothing to commit: closing its session ends the transaction (one
    ROLLBACK), where a COMMIT would cost a round trip more (the pool rolls back every
    connection it gets back that was not closed inside a transaction)."""
    from quart import g

    from . import response_cache

    session: AsyncSession | None = g.get("db_session")
    if session is not None:
        if response.status_code < 400:
            await session.flush()  # ORM changes not flushed yet are writes too
            if session.sync_session.info.get("wrote"):
                await session.commit()
                await run_after_commit(session)
                if changed_content(session):
                    await response_cache.content_changed()
        else:
            await session.rollback()
    counter = _statement_counter.get()
    if counter is not None:
        response.headers[SQL_COUNT_HEADER] = str(counter[0])


def init_app(app: Quart) -> Database:
    from quart import g, request

    db = Database(app)
    app.extensions[EXTENSION_KEY] = db

    @app.before_serving
    async def _start_database() -> None:
        try:
            await db.check_schema(report=False)  # a refused start-up says why in one line
        except Exception as exc:
            if not is_unavailable(exc):
                raise  # a schema behind head, wrong credentials ...: refuse to start
            db.outage.failed(exc, starting=True)

    @app.before_request
    async def _check_schema_once_reachable():
        if db.schema_checked or (request.endpoint or "").endswith("static") or request.blueprint == "health":
            return None
        try:
            await db.check_schema()
        except Exception as exc:
            if is_unavailable(exc) or is_busy(exc):
                raise  # on to the error handler: 503, and the outage is noted
            from .errors import unavailable_response

            return await unavailable_response()  # check_schema logged the problem
        return None

    @app.after_serving
    async def _stop_database() -> None:
        await db.dispose()

    if app.config.get("SQL_COUNT_HEADER"):
        @app.before_request
        async def _start_counting() -> None:
            _statement_counter.set([0])

    @app.teardown_request
    async def _close_session(exc: BaseException | None) -> None:
        session: AsyncSession | None = g.pop("db_session", None)
        if session is not None:
            try:
                if exc is not None:
                    await session.rollback()
                await session.close()
            except Exception as error:
                if not is_unavailable(error):  # a dead connection cannot be rolled back: fine
                    raise

    return db
