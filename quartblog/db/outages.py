"""When the database cannot answer: ``is_unavailable(exc)`` recognises "the database
cannot be reached" errors of every driver, ``is_busy(exc)`` a statement that ran out of
time, ``is_conflict(exc)`` a concurrency conflict nothing settled; all are answered 503
with Retry-After.  ``OutageLog`` logs one warning when an
outage begins and one line when it ends."""

from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING, Callable

from sqlalchemy import exc as sa_exc

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("quartblog.db")

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
SQLITE_INTERRUPT = 9  # a statement stopped by db/limits.py's progress handler
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
    statement stopped by the statement time limit (a search's own too: db/limits.py),
    or no pooled connection free within the pool's timeout."""
    if isinstance(exc, sa_exc.TimeoutError):  # QueuePool limit reached
        return True
    for err in _driver_errors(exc):
        mysql, sqlstate, sqlite = _codes(err)
        if mysql in MYSQL_STATEMENT_TIMEOUT or sqlstate == PG_STATEMENT_TIMEOUT:
            return True
        if sqlite == SQLITE_INTERRUPT or (mysql is None and sqlstate is None and str(err) == "interrupted"):
            return True
    return False


# PostgreSQL SQLSTATEs of a concurrency conflict or a shortage: class 40 (transaction
# rollback: serialization failure, deadlock), lock not available, object in use, and
# class 53 (insufficient resources).
PG_CONFLICT_PREFIXES = ("40", "53", "55P03", "55006")
SQLITE_CONFLICT = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
SQLITE_CONFLICT_TEXT = ("database is locked", "database table is locked")


def is_conflict(exc: BaseException) -> bool:
    """True when the database refused the work for a reason of the moment, not of
    the request: a deadlock, a lock wait, a serialization failure that the unit of work
    did not settle, or any other MySQL/MariaDB server error the drivers class as
    "operational" (the DB-API's class for errors of the database's operation, not of
    the program: a code nobody listed must not become a 500).  Answered 503 with
    Retry-After, like an outage."""
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    for err in _driver_errors(exc):
        mysql, sqlstate, sqlite = _codes(err)
        if mysql is not None and isinstance(exc, sa_exc.OperationalError) and mysql >= 1000:
            return True
        if sqlstate is not None and sqlstate.startswith(PG_CONFLICT_PREFIXES):
            return True
        if sqlite is not None and sqlite & 0xFF in SQLITE_CONFLICT:
            return True
        if mysql is None and sqlstate is None and any(t in str(err).lower() for t in SQLITE_CONFLICT_TEXT):
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


def quiet_pool_outages(engine: AsyncEngine) -> None:
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


