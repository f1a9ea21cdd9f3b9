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
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from quart import Quart, Response, g
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, UOWTransaction

EXTENSION_KEY = "quartblog.db"
SQL_COUNT_HEADER = "X-SQL-Statements"

# The statements run by the current request, when SQL_COUNT_HEADER is on.
_statement_counter: ContextVar[list[int] | None] = ContextVar("quartblog_sql_count", default=None)
# Whether the current request may write: SQLite then begins with BEGIN IMMEDIATE.
_writing: ContextVar[bool] = ContextVar("quartblog_writing", default=False)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Tables whose rows no page or API response shows: writing them leaves cached
# responses valid.  Every other table's writes invalidate them.
CACHE_NEUTRAL_TABLES = frozenset({"sign_ins"})
# An execution option that marks a statement as changing nothing a cached page
# shows (e.g. a visit counter): ``execution_options(changes_content=False)``.
CHANGES_CONTENT = "changes_content"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached at start-up."""


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


def create_engine(url: str | URL, *, pool_size: int = 20, max_overflow: int = 20,
                  pool_recycle: int = 3600, echo: bool = False) -> AsyncEngine:
    url = normalize_url(url)
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # One file, many readers, one writer: wait for the lock instead of failing at once.
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(
            pool_pre_ping=True,
            pool_recycle=pool_recycle,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        if backend in ("mysql", "mariadb"):
            # Each statement reads the newest committed rows, and InnoDB takes no gap
            # locks: a retried slug or tag sees the row that beat it, and concurrent
            # inserts do not deadlock on each other's gaps.
            kwargs["isolation_level"] = "READ COMMITTED"
    engine = create_async_engine(url, **kwargs)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


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
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(getattr(obj, "__table__", None), "name", None)
        if table not in CACHE_NEUTRAL_TABLES and (obj not in session.dirty or session.is_modified(obj)):
            session.info["changed_content"] = True
            return


@event.listens_for(BlogSession, "do_orm_execute")
def _note_executed_changes(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    if state.execution_options.get(CHANGES_CONTENT, True) is False:
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table not in CACHE_NEUTRAL_TABLES:
        state.session.info["changed_content"] = True


def changed_content(session: AsyncSession) -> bool:
    return bool(session.sync_session.info.get("changed_content"))


def engine_from_config(config: dict[str, Any], instance_path: str | Path) -> AsyncEngine:
    return create_engine(
        config.get("DATABASE_URL") or default_database_url(instance_path),
        pool_size=config["DB_POOL_SIZE"],
        max_overflow=config["DB_MAX_OVERFLOW"],
        pool_recycle=config["DB_POOL_RECYCLE"],
        echo=config["DB_ECHO"],
    )


class Database:
    """The app's engine and session factory (``app.extensions["quartblog.db"]``)."""

    def __init__(self, app: Quart) -> None:
        self.app = app
        self._engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None

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
            self.sessionmaker = async_sessionmaker(self._engine, expire_on_commit=False,
                                                   sync_session_class=BlogSession)
        return self._engine

    def session(self) -> AsyncSession:
        self.engine  # noqa: B018 - make sure the factory exists
        assert self.sessionmaker is not None
        return self.sessionmaker()

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
    session = g.get("db_session")
    if session is None:
        session = get_db().session()
        g.db_session = session
    return session


def set_write_intent(writing: bool) -> None:
    """Will this task's transactions write? (SQLite then begins with BEGIN IMMEDIATE.)
    The unit of work sets it per request: true unless GET, HEAD or OPTIONS."""
    _writing.set(writing)


async def discard_request_session() -> None:
    """Roll back and close the request's session: the next attempt opens a new one."""
    session: AsyncSession | None = g.pop("db_session", None)
    if session is not None:
        try:
            await session.rollback()
        finally:
            await session.close()


async def finish_request(response: Response) -> None:
    """Commit the request's work (rolled back for an error response), then tell the
    cache what changed, and report the statement count."""
    from . import response_cache

    session: AsyncSession | None = g.get("db_session")
    if session is not None:
        if response.status_code < 400:
            await session.commit()
            if changed_content(session):
                await response_cache.content_changed()
        else:
            await session.rollback()
    counter = _statement_counter.get()
    if counter is not None:
        response.headers[SQL_COUNT_HEADER] = str(counter[0])


def init_app(app: Quart) -> Database:
    db = Database(app)
    app.extensions[EXTENSION_KEY] = db

    @app.before_serving
    async def _start_database() -> None:
        from .migrations import ensure_schema_current

        await ensure_schema_current(app, db)

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
            if exc is not None:
                await session.rollback()
            await session.close()

    return db
