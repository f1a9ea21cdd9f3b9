"""Sessions: one ``AsyncSession`` per request, opened on first use through
``get_session()`` and ended by the unit of work (``quartblog/web/unit_of_work.py``:
committed when the view succeeds, rolled back otherwise, always closed).  A session
notes whether it changed what pages show (``changed_content``): the response cache
forgets its pages only after such a change is committed.  ``after_commit`` runs work
outside the database (removing a file) only once the transaction is committed."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, UOWTransaction

from .engine import default_database_url, engine_from_config, masked
from .limits import StatementLimit
from .outages import OutageLog, describe, is_busy, is_conflict, is_unavailable

if TYPE_CHECKING:  # Quart is imported where it is used: alembic's env.py needs only the engine
    from quart import Quart

EXTENSION_KEY = "quartblog.db"
SQL_COUNT_HEADER = "X-SQL-Statements"

# The statements run by the current request, when SQL_COUNT_HEADER is on.
_statement_counter: ContextVar[list[int] | None] = ContextVar("quartblog_sql_count", default=None)

# Tables whose rows no page or API response shows: writing them leaves cached
# responses valid.  Every other table's writes invalidate them.
CACHE_NEUTRAL_TABLES = frozenset({"sign_ins", "uploads", "jobs", "mail_deliveries", "password_resets",
                                  "email_verifications", "subscribers"})
# An execution option that marks a statement as changing nothing a cached page
# shows (e.g. a visit counter): ``execution_options(changes_content=False)``.
CHANGES_CONTENT = "changes_content"

log = logging.getLogger("quartblog.db")


def statement_count() -> int | None:
    """How many statements the current request ran (SQL_COUNT_HEADER on), else None."""
    counter = _statement_counter.get()
    return None if counter is None else counter[0]


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


class Database:
    """The app's engine and session factory (``app.extensions["quartblog.db"]``)."""

    def __init__(self, app: Quart) -> None:
        self.app = app
        self._engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.outage = OutageLog(masked(self.url))
        self._search: StatementLimit | None = None

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

    @property
    def search(self) -> StatementLimit:
        """The searches of this process: SEARCH_CONCURRENCY at once, each statement
        stopped after SEARCH_STATEMENT_TIMEOUT (db/limits.py)."""
        if self._search is None:
            config = self.app.config
            timeout, pages = config.get("SEARCH_STATEMENT_TIMEOUT", 0), config.get("DB_STATEMENT_TIMEOUT", 0)
            if pages and timeout and timeout > pages:
                timeout = pages  # never longer than every other statement may run
            self._search = StatementLimit("searches", concurrency=config.get("SEARCH_CONCURRENCY", 0),
                                          wait=config.get("SEARCH_WAIT_SECONDS", 0), timeout=timeout)
        return self._search

    def note_failure(self, exc: BaseException) -> bool:
        """True when ``exc`` is answered 503: an outage (logged once, see
        ``OutageLog``), a statement out of time or a concurrency conflict that the
        unit of work did not settle (one warning line each)."""
        if is_unavailable(exc):
            self.outage.failed(exc)
            return True
        busy = is_busy(exc)
        if busy or is_conflict(exc):
            from quart import has_request_context, request

            where = f"{request.method} {request.path}" if has_request_context() else "a background task"
            what = "a database statement ran out of time" if busy else "the database refused the work for now"
            log.warning("%s on %s: %s", what, where, describe(exc))
            return True
        return False

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


def search_limit(session: AsyncSession):
    """The block in which a search's statements run (``Database.search``); outside an
    app (a script, the shell without one) no limit."""
    from contextlib import nullcontext

    from quart import has_app_context

    return get_db().search(session) if has_app_context() else nullcontext()


async def discard_request_session() -> None:
    """Roll back and close the request's session: the next attempt opens a new one."""
    from quart import g

    session: AsyncSession | None = g.pop("db_session", None)
    if session is not None:
        try:
            await session.rollback()
        finally:
            await session.close()


def init_app(app: Quart) -> Database:
    from quart import g

    db = Database(app)
    app.extensions[EXTENSION_KEY] = db

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
