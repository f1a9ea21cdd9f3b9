"""The engine and the session lifecycle.

* One ``AsyncEngine`` per process: created when the app starts serving, disposed
  when it stops (``init_app`` wires that up).
* One ``AsyncSession`` per request, opened on first use through ``get_session()``;
  committed when the view succeeds (a response below 400), rolled back on an
  error response or an exception, always closed.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

if TYPE_CHECKING:  # Quart is imported where it is used: alembic's env.py needs only the engine
    from quart import Quart, Response

EXTENSION_KEY = "quartblog.db"
SQL_COUNT_HEADER = "X-SQL-Statements"

# The statements run by the current request, when SQL_COUNT_HEADER is on.
_statement_counter: ContextVar[list[int] | None] = ContextVar("quartblog_sql_count", default=None)


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
    connection.exec_driver_sql("BEGIN")


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
            self.sessionmaker = async_sessionmaker(self._engine, expire_on_commit=False)
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
    if counter is not None and statement != "BEGIN":
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


def init_app(app: Quart) -> Database:
    from quart import g

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

        @app.after_request
        async def _report_count(response: Response) -> Response:
            # Registered before _commit_session, so it runs after it (Quart runs
            # after_request functions in reverse order) and counts the flush too.
            counter = _statement_counter.get()
            if counter is not None:
                response.headers[SQL_COUNT_HEADER] = str(counter[0])
            return response

    @app.after_request
    async def _commit_session(response: Response) -> Response:
        session: AsyncSession | None = g.get("db_session")
        if session is not None:
            if response.status_code < 400:
                await session.commit()
            else:
                await session.rollback()
        return response

    @app.teardown_request
    async def _close_session(exc: BaseException | None) -> None:
        session: AsyncSession | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                await session.rollback()
            await session.close()

    return db
