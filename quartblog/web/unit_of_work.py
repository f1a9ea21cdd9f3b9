"""Every request is one unit of work, retried as a whole when the database gives up on it.

``UnitOfWorkMixin.full_dispatch_request`` (of the app class) wraps Quart's: before-request functions, the
view, error handlers and after-request functions run as usual, then the request's
session (``db.get_session()``) is committed when the response is below 400 and
rolled back otherwise.  Only then, once the data is committed, the response cache
forgets what the request changed (``db.changed_content``).

When the database refuses the unit of work for a reason that says nothing about the
request itself (a deadlock, a lock-wait timeout, a serialization failure, SQLite's
"database is locked", or a unique/foreign-key race that only concurrency explains),
the whole request runs again in a new transaction and a new session, up to
``DB_RETRY_ATTEMPTS`` times with a jittered backoff.  Never a SAVEPOINT after the
server has rolled the transaction back (MySQL does that on a deadlock): the
savepoint is gone with it.  What the attempt did outside the database is undone
too: ``g`` and the cookie session (flash messages, sign-in) are put back as they
were.  When every attempt fails the client gets 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from quart import Response, g
from quart.globals import request_ctx
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from werkzeug.exceptions import ServiceUnavailable

from .. import db
from . import response_cache

log = logging.getLogger(__name__)

# MySQL/MariaDB error codes: deadlock, lock wait timeout, "record has changed since
# last read" (MariaDB's snapshot isolation check), and "SAVEPOINT ... does not exist":
# a deadlock inside ``session.begin_nested()`` rolls the whole transaction back, and
# SQLAlchemy then reports the failed ROLLBACK TO SAVEPOINT instead of the deadlock
# (seen under pt-online-schema-change's triggers, issue 22).
MYSQL_RETRYABLE = frozenset({1213, 1205, 1020, 1305})
# PostgreSQL SQLSTATEs: serialization failure, deadlock, lock not available.
POSTGRES_RETRYABLE = frozenset({"40001", "40P01", "55P03"})
SQLITE_RETRYABLE = ("database is locked", "database table is locked")

BACKOFF_BASE_SECONDS = 0.01
BACKOFF_MAX_SECONDS = 0.25


class DatabaseBusy(ServiceUnavailable):
    """Every attempt of the unit of work hit a concurrency conflict."""

    description = "The database is busy: please try again in a moment."


def is_retryable(exc: BaseException) -> bool:
    """Does this error say "try the same thing again in a new transaction"?"""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        # A pooled connection that had died: a request that only reads runs again on
        # a new one (writes ping their connection first: db.create_engine).
        return not db.write_intent()
    if isinstance(exc, IntegrityError):
        # A unique or foreign-key race: a fresh transaction sees the other side's
        # committed row and takes the path for it (an upsert, a 404, a 422).
        return True
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in MYSQL_RETRYABLE:
        return True  # before the SQLSTATE: asyncmy gives 1305 one (42000) that says nothing
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate is not None:
        return sqlstate in POSTGRES_RETRYABLE
    if args and isinstance(args[0], int):
        return False
    message = str(orig).lower()
    return any(text in message for text in SQLITE_RETRYABLE)


def backoff(attempt: int) -> float:
    """Full jitter: a random pause below an exponentially growing cap."""
    return random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt))


class UnitOfWorkMixin:
    """For the app class (a Quart): each request one retried unit of work (see the module)."""

    async def full_dispatch_request(self, request_context: Any = None) -> Response:
        context = request_context or request_ctx
        saved_globals = dict(vars(g))
        saved_cookie_session = dict(context.session) if context.session is not None else None
        attempts = max(1, int(self.config.get("DB_RETRY_ATTEMPTS", 5)))
        db.set_write_intent(context.request.method not in db.READ_METHODS)
        for attempt in range(1, attempts + 1):
            try:
                response = await super().full_dispatch_request(request_context)  # type: ignore[misc]
                await finish_request(response)
                return response
            except Exception as exc:
                if not is_retryable(exc):
                    # The commit failed for another reason (an outage: 503): the error
                    # handlers answer, as for an error in the view.
                    await db.discard_request_session()
                    result = await self.handle_user_exception(exc)
                    return await self.finalize_request(result, request_context, from_error_handler=True)
                failure = exc
            await db.discard_request_session()
            log.info("retrying %s %s (attempt %d of %d): %s", context.request.method,
                     context.request.path, attempt, attempts, _short(failure))
            if attempt == attempts:
                break
            vars(g).clear()
            vars(g).update(saved_globals)
            if saved_cookie_session is not None:
                context.session.clear()
                context.session.update(saved_cookie_session)
            await asyncio.sleep(backoff(attempt))
        log.warning("giving up on %s %s after %d attempts: %s", context.request.method,
                    context.request.path, attempts, _short(failure))
        vars(g).clear()
        vars(g).update(saved_globals)
        result = await self.handle_user_exception(DatabaseBusy(retry_after=1))
        return await self.finalize_request(result, request_context, from_error_handler=True)

    async def handle_user_exception(self, error: Exception):
        if is_retryable(error):
            raise error  # out to full_dispatch_request, which runs the request again
        return await super().handle_user_exception(error)


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return f"{type(orig or exc).__name__}: {str(orig or exc).splitlines()[0][:200]}"


async def finish_request(response: Response) -> None:
    """Commit the request's work (rolled back for an error response), then tell the
    cache what changed, and report the statement count.  A request that wrote
    nothing has nothing to commit: closing its session ends the transaction (one
    ROLLBACK), where a COMMIT would cost a round trip more (the pool rolls back every
    connection it gets back that was not closed inside a transaction)."""
    session: AsyncSession | None = g.get("db_session")
    if session is not None:
        if response.status_code < 400:
            await session.flush()  # ORM changes not flushed yet are writes too
            if session.sync_session.info.get("wrote"):
                await session.commit()
                await db.run_after_commit(session)
                if db.changed_content(session):
                    await response_cache.content_changed()
        else:
            await session.rollback()
    count = db.statement_count()
    if count is not None:
        response.headers[db.SQL_COUNT_HEADER] = str(count)
