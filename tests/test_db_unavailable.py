"""The database is unavailable or too slow: 503 with Retry-After, never 500.

Driver errors are classified by ``quartblog.db.is_unavailable`` / ``is_busy``;
the app answers 503 in the API's error shape or as an HTML page, ``/readyz``
says 503 while ``/healthz`` stays 200, and ``OutageLog`` logs one warning per
outage.  The real outage (a MariaDB server killed under load) is in
tests/test_outage.py.
"""

from __future__ import annotations

import logging
import socket
import sqlite3

import pymysql
import pytest
from asyncmy import errors as asyncmy_errors
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from quartblog import create_app
from quartblog.db import (OutageLog, create_engine, get_db, get_session, is_busy, is_conflict, is_unavailable,
                          masked)

from .conftest import make_config


def wrapped(error: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """``error`` as SQLAlchemy raises it: OperationalError with the driver's error in ``.orig``."""
    return sa_exc.OperationalError("SELECT 1", {}, error, connection_invalidated=invalidated)


def sqlite_error(path: str) -> sqlite3.Error:
    try:
        sqlite3.connect(path)
    except sqlite3.Error as error:
        return error
    raise AssertionError("expected a sqlite3 error")


@pytest.mark.parametrize("error", [
    wrapped(asyncmy_errors.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1'")),
    wrapped(asyncmy_errors.OperationalError(2002, "Can't connect through socket")),
    wrapped(asyncmy_errors.OperationalError(2006, "MySQL server has gone away")),
    wrapped(asyncmy_errors.OperationalError(2013, "Lost connection to MySQL server during query")),
    wrapped(asyncmy_errors.OperationalError(1040, "Too many connections")),
    wrapped(asyncmy_errors.OperationalError(1053, "Server shutdown in progress")),
    wrapped(pymysql.err.OperationalError(2003, "Can't connect to MySQL server")),  # aiomysql
    wrapped(pymysql.err.InterfaceError(0, ""), invalidated=True),  # a disconnect SQLAlchemy saw
    wrapped(sqlite_error("/nonexistent-dir/quartblog.db")),  # SQLITE_CANTOPEN
    ConnectionRefusedError(111, "Connect call failed"),  # asyncpg connects unwrapped
    TimeoutError(),  # a connect that got no answer
    socket.gaierror(-2, "Name or service not known"),
], ids=lambda e: f"{type(e).__name__}:{getattr(getattr(e, 'orig', e), 'args', ())[:1]}")
def test_outage_errors_are_recognised(error):
    assert is_unavailable(error)
    assert not is_busy(error)


def redis_connection_error() -> Exception:
    import redis  # a test dependency (the Redis cache is tested)

    try:
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6380") from ConnectionRefusedError(111, "")
    except Exception as error:
        return error


@pytest.mark.parametrize("error", [
    wrapped(asyncmy_errors.OperationalError(1213, "Deadlock found")),  # retried elsewhere
    wrapped(asyncmy_errors.OperationalError(1205, "Lock wait timeout exceeded")),
    sa_exc.IntegrityError("INSERT", {}, pymysql.err.IntegrityError(1062, "Duplicate entry")),
    sa_exc.ProgrammingError("SELECT", {}, pymysql.err.ProgrammingError(1146, "Table doesn't exist")),
    wrapped(sqlite3.OperationalError("no such table: posts")),
    FileNotFoundError(2, "No such file"),
    ValueError("2003"),
    redis_connection_error(),  # the cache's server, not the database
], ids=lambda e: f"{type(e).__name__}:{getattr(getattr(e, 'orig', e), 'args', ())[:1]}")
def test_other_errors_are_not_outages(error):
    assert not is_unavailable(error)
    assert not is_busy(error)


@pytest.mark.parametrize("error", [
    wrapped(asyncmy_errors.OperationalError(1969, "Query execution was interrupted (max_statement_time exceeded)")),
    wrapped(pymysql.err.OperationalError(3024, "Query execution was interrupted, maximum statement execution time exceeded")),
    sa_exc.TimeoutError("QueuePool limit of size 20 overflow 20 reached"),
])
def test_statements_out_of_time_are_busy_not_outages(error):
    assert is_busy(error)
    assert not is_unavailable(error)


@pytest.mark.parametrize("error, conflict", [
    (wrapped(asyncmy_errors.OperationalError(1213, "Deadlock found")), True),
    (wrapped(pymysql.err.OperationalError(1205, "Lock wait timeout exceeded")), True),
    (wrapped(asyncmy_errors.OperationalError(1637, "Too many active concurrent transactions")), True),
    (wrapped(sqlite3.OperationalError("database is locked")), True),
    (sa_exc.ProgrammingError("SELECT", {}, pymysql.err.ProgrammingError(1146, "Table doesn't exist")), False),
    (sa_exc.IntegrityError("INSERT", {}, pymysql.err.IntegrityError(1062, "Duplicate entry")), False),
    (wrapped(sqlite3.OperationalError("no such table: posts")), False),
    (ValueError("1213"), False),
], ids=lambda e: f"{type(e).__name__}:{getattr(getattr(e, 'orig', e), 'args', ())[:1]}" if isinstance(e, Exception) else str(e))
def test_concurrency_conflicts_are_recognised(error, conflict):
    """What the unit of work did not settle is answered 503 too (never 500)."""
    assert is_conflict(error) is conflict


def test_postgresql_errors_are_recognised():
    asyncpg = pytest.importorskip("asyncpg")
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

    dbapi = AsyncAdapt_asyncpg_dbapi(asyncpg)

    def adapted(error):
        return sa_exc.DBAPIError("SELECT 1", {}, dbapi.Error(str(error), error))

    assert is_unavailable(adapted(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")))
    assert is_unavailable(adapted(asyncpg.exceptions.AdminShutdownError("terminating connection")))
    assert is_unavailable(adapted(asyncpg.exceptions.TooManyConnectionsError("too many clients")))
    assert is_busy(adapted(asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout")))
    assert not is_unavailable(adapted(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")))
    assert not is_unavailable(adapted(asyncpg.exceptions.UniqueViolationError("duplicate key")))
    assert is_conflict(adapted(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")))
    assert is_conflict(adapted(asyncpg.exceptions.SerializationError("could not serialize access")))
    assert not is_conflict(adapted(asyncpg.exceptions.UniqueViolationError("duplicate key")))


def test_an_outage_is_logged_once_when_it_begins_and_once_when_it_ends(caplog):
    now = [100.0]
    outage = OutageLog("mysql+asyncmy://bob:***@db/blog", clock=lambda: now[0])
    error = wrapped(asyncmy_errors.OperationalError(2003, "Can't connect to MySQL server on 'db'"))
    caplog.set_level(logging.INFO, logger="quartblog.db")

    outage.succeeded()  # up, and still up: nothing to say
    for _ in range(50):
        outage.failed(error)
    assert outage.down and outage.failures == 50
    now[0] += 12.5
    outage.succeeded()
    outage.succeeded()
    assert not outage.down

    records = [r for r in caplog.records if r.name == "quartblog.db"]
    assert [r.levelname for r in records] == ["WARNING", "INFO"]
    warning, info = (r.getMessage() for r in records)
    assert "mysql+asyncmy://bob:***@db/blog" in warning and "2003" in warning
    assert "back after 12.5 s" in info and "50 failures" in info
    assert all(r.exc_info is None for r in records)  # no traceback

    outage.failed(error)  # the next outage: a new warning
    assert [r.levelname for r in caplog.records if r.name == "quartblog.db"] == ["WARNING", "INFO", "WARNING"]


CLOSED_PORT_URL = "mysql+asyncmy://bob:hunter2@127.0.0.1:1/nowhere"


@pytest.fixture
async def unreachable_app(caplog):
    """The app, started while its database refuses connections."""
    caplog.set_level(logging.INFO)
    app = create_app(make_config(CLOSED_PORT_URL, DB_CONNECT_TIMEOUT=2))
    async with app.test_app():
        yield app


def outage_records(caplog) -> list[logging.LogRecord]:
    records = caplog.get_records("setup") + caplog.records  # the app may start in a fixture
    return [r for r in records if r.name.startswith("quartblog") and r.levelno >= logging.WARNING]


async def test_the_app_starts_while_the_database_is_down_and_answers_503(unreachable_app, caplog):
    client = unreachable_app.test_client()

    api = await client.get("/api/articles")
    assert api.status_code == 503
    assert int(api.headers["Retry-After"]) > 0
    assert (await api.get_json())["errors"]["body"] == [
        "The database is unavailable at the moment: please try again shortly."]

    for path in ("/", "/posts/some-post", "/login"):
        page = await client.get(path)
        assert page.status_code == 503, path
        assert page.headers["Retry-After"] and page.mimetype == "text/html"
        assert "Temporarily unavailable" in await page.get_data(as_text=True)

    json_client = await client.get("/", headers={"Accept": "application/json"})
    assert json_client.status_code == 503 and "errors" in await json_client.get_json()

    write = await client.post("/api/users", json={"user": {
        "username": "ada", "email": "ada@example.com", "password": "correct horse battery"}})
    assert write.status_code == 503 and write.headers["Retry-After"]

    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert (await ready.get_json())["errors"]["body"]

    # one warning (at start-up, with the URL masked), no traceback, no "unhandled error"
    records = outage_records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert "cannot be reached at start-up" in message
    assert "127.0.0.1:1/nowhere" in message and "hunter2" not in message and "***" in message
    assert records[0].exc_info is None


async def test_a_running_app_whose_database_goes_away_answers_503_and_logs_once(database_url, caplog):
    app = create_app(make_config(database_url))
    async with app.test_app():
        client = app.test_client()
        assert (await client.get("/api/articles")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        caplog.set_level(logging.INFO)
        db = get_db(app)
        real_engine = db.engine
        # the database "moves" to a closed port: every new connection is refused
        db._engine = create_engine(CLOSED_PORT_URL, connect_timeout=2)
        db.sessionmaker.configure(bind=db._engine)
        try:
            statuses = [(await client.get(path)).status_code for path in ("/api/articles", "/", "/api/tags") * 5]
            assert statuses == [503] * 15
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200
        finally:
            await db._engine.dispose()
            db._engine = real_engine
            db.sessionmaker.configure(bind=real_engine)
        assert [r.getMessage().split(" (")[0] for r in outage_records(caplog)] == [
            f"the database at {masked(database_url)} is unavailable"]


async def test_start_up_still_stops_when_the_database_refuses_the_credentials(backend, database_url):
    """Wrong credentials are not an outage: waiting will not fix them."""
    from sqlalchemy.engine import make_url

    from quartblog.db import DatabaseUnavailable

    if backend == "sqlite":
        pytest.skip("SQLite has no credentials")
    url = make_url(database_url).set(username="nobody", password="hunter2")
    app = create_app(make_config(url.render_as_string(hide_password=False)))
    with pytest.raises(DatabaseUnavailable) as info:
        await app.startup()
    await app.shutdown()
    assert "hunter2" not in str(info.value) and "***" in str(info.value)


@pytest.fixture
def slow_statement(backend):
    if backend == "sqlite":
        pytest.skip("SQLite has no statement time limit (it has the busy timeout)")
    return "SELECT pg_sleep(5)" if backend == "asyncpg" else "SELECT SLEEP(5)"


async def test_a_statement_out_of_time_answers_503_not_500(database_url, slow_statement, caplog):
    app = create_app(make_config(database_url, DB_STATEMENT_TIMEOUT=1))

    @app.get("/api/slow")
    async def slow():
        await get_session().execute(text(slow_statement))
        return {"done": True}

    async with app.test_app():
        caplog.set_level(logging.INFO)
        client = app.test_client()
        response = await client.get("/api/slow")
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert (await response.get_json())["errors"]["body"]
        # the server is fine: nothing else fails, and this is no outage
        assert (await client.get("/api/tags")).status_code == 200
        assert not get_db(app).outage.down
    [record] = outage_records(caplog)
    assert "ran out of time on GET /api/slow" in record.getMessage() and record.exc_info is None


async def test_postgresql_stops_a_statement_at_the_statement_timeout():
    pytest.importorskip("asyncpg")
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres", statement_timeout=1)
    try:
        async with engine.connect() as conn:
            with pytest.raises(sa_exc.DBAPIError) as info:
                await conn.execute(text("SELECT pg_sleep(5)"))
    except (OSError, sa_exc.OperationalError) as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    finally:
        await engine.dispose()
    assert is_busy(info.value) and not is_unavailable(info.value)


async def test_a_server_that_accepts_but_never_answers_times_out_connecting(backend):
    """A hung server (stopped, swapping) accepts connections into its backlog and
    never greets: the whole connect is bounded, not just the socket's opening."""
    if backend == "sqlite":
        pytest.skip("no server")
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        port = hung.getsockname()[1]
        scheme = "postgresql+asyncpg" if backend == "asyncpg" else f"mysql+{backend}"
        engine = create_engine(f"{scheme}://root@127.0.0.1:{port}/blog", connect_timeout=0.5)
        try:
            with pytest.raises(Exception) as info:
                async with engine.connect():
                    pass
        finally:
            await engine.dispose()
    assert is_unavailable(info.value)


async def test_the_pool_does_not_log_tracebacks_of_connections_lost_in_an_outage(caplog):
    """Returning a connection whose server died fails its reset: SQLAlchemy's pool
    logs that with a traceback, once per connection.  The outage is logged once
    by OutageLog instead; other pool errors still reach the log."""
    engine = create_engine(CLOSED_PORT_URL)
    pool_logger = engine.sync_engine.pool.logger
    try:
        for error in (asyncmy_errors.OperationalError(2013, "Lost connection to MySQL server during query"),
                      asyncmy_errors.OperationalError(1064, "You have an error in your SQL syntax")):
            try:
                raise error
            except Exception:
                pool_logger.error("Exception during reset or similar", exc_info=True)
    finally:
        await engine.dispose()
    logged = [r for r in caplog.records if r.getMessage() == "Exception during reset or similar"]
    assert [r.exc_info[1].args[0] for r in logged] == [1064]


async def move_database(app, url: str):
    """The app's database is now at ``url`` (as if it had come back there)."""
    db = get_db(app)
    old = db.engine
    db._engine = create_engine(url)
    db.sessionmaker.configure(bind=db._engine)
    await old.dispose()
    return db


@pytest.mark.parametrize("auto_migrate", [True, False], ids=["auto-migrate", "behind"])
async def test_the_schema_is_checked_when_a_database_missed_at_start_up_comes_back(
        tmp_path, caplog, auto_migrate):
    from quartblog.migrations import upgrade

    caplog.set_level(logging.INFO)
    app = create_app(make_config(CLOSED_PORT_URL, DB_CONNECT_TIMEOUT=2, AUTO_MIGRATE=auto_migrate))
    async with app.test_app():
        client = app.test_client()
        assert (await client.get("/api/articles")).status_code == 503
        db = await move_database(app, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")  # back, and empty
        try:
            if auto_migrate:
                assert (await client.get("/api/articles")).status_code == 200
                assert (await client.get("/readyz")).status_code == 200
                return
            # behind: refused (503, not 500) until upgraded, and said once in the log
            for path in ("/api/articles", "/", "/api/tags", "/readyz"):
                response = await client.get(path)
                assert response.status_code == 503 and response.headers["Retry-After"], path
            assert "alembic upgrade head" in (await response.get_json())["errors"]["body"][0]
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1 and "run `alembic upgrade head`" in errors[0].getMessage()
            await upgrade(db.engine)
            app.extensions["quartblog.schema"]._next_check = 0  # instead of waiting RETRY_AFTER_SECONDS
            assert (await client.get("/api/articles")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
        finally:
            await db.dispose()
