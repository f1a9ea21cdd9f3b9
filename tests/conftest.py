"""Fixtures: every test that uses ``app`` runs once per database backend.

Backends: ``sqlite`` (aiosqlite), ``asyncmy`` and ``aiomysql`` (MariaDB), ``asyncpg``
(PostgreSQL).  Each run creates its own databases and drops them at the end.  Choose
with ``--db sqlite,asyncmy`` or ``QUARTBLOG_TEST_DBS``; the servers are
``QUARTBLOG_TEST_MYSQL`` (default ``root@127.0.0.1:3306``) and ``QUARTBLOG_TEST_POSTGRES``
(default ``postgres@127.0.0.1:5432``).

Without a reachable server its runs are skipped, and the summary says so; with
``CI=true`` an unreachable server fails the run instead.
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from quartblog import create_app
from quartblog.db import create_engine, get_db
from quartblog.migrations import upgrade
from quartblog.models import Base

ALL_BACKENDS = ("sqlite", "asyncmy", "aiomysql", "asyncpg")
MYSQL_BACKENDS = ("asyncmy", "aiomysql")
MYSQL_SERVER = os.environ.get("QUARTBLOG_TEST_MYSQL", "root@127.0.0.1:3306")
POSTGRES_SERVER = os.environ.get("QUARTBLOG_TEST_POSTGRES", "postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"

_server_problems: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("QUARTBLOG_TEST_DBS", ",".join(ALL_BACKENDS)),
        help="comma-separated database backends to run against: " + ", ".join(ALL_BACKENDS),
    )


def selected_backends(config: pytest.Config) -> list[str]:
    chosen = [b.strip() for b in config.getoption("--db").split(",") if b.strip()]
    unknown = set(chosen) - set(ALL_BACKENDS)
    if unknown:
        raise pytest.UsageError(f"unknown --db backend(s): {', '.join(sorted(unknown))}")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", selected_backends(metafunc.config), indirect=True, scope="session")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _server_problems:
        terminalreporter.write_sep("=", "SOME DATABASE BACKENDS NOT TESTED", yellow=True, bold=True)
        for problem in dict.fromkeys(_server_problems):
            terminalreporter.write_line(problem)
        terminalreporter.write_line("Start the server (or set QUARTBLOG_TEST_MYSQL / QUARTBLOG_TEST_POSTGRES) to test it too.")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def mysql_url(driver: str, database: str = "") -> str:
    return f"mysql+{driver}://{MYSQL_SERVER}/{database}?charset=utf8mb4"


def server_url(backend: str, database: str = "") -> str:
    """The URL of ``database`` on the server of a MySQL or PostgreSQL backend."""
    if backend == "asyncpg":
        return f"postgresql+asyncpg://{POSTGRES_SERVER}/{database or 'postgres'}"
    return mysql_url(backend, database)


async def _server_admin(backend: str, statement: str) -> None:
    engine = create_engine(server_url(backend))
    try:
        # CREATE/DROP DATABASE cannot run inside a transaction on PostgreSQL.
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def fresh_database(backend: str, tmp_dir: Path) -> AsyncIterator[str]:
    """A new, empty database for ``backend``; dropped afterwards."""
    if backend == "sqlite":
        path = tmp_dir / f"quartblog-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"qb_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    if backend == "asyncpg":
        server, create = POSTGRES_SERVER, f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0'
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    else:
        server = MYSQL_SERVER
        create = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"
        drop = f"DROP DATABASE IF EXISTS `{name}`"
    try:
        await _server_admin(backend, create)
    except Exception as exc:  # connection refused, access denied ...
        message = f"The database server at {server} is not reachable through {backend}: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: every backend must be tested)", pytrace=False)
        _server_problems.append(message)
        pytest.skip(message)
    try:
        yield server_url(backend, name)
    finally:
        await _server_admin(backend, drop)


@pytest.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A database migrated to head, shared by the session's tests on this backend."""
    async with fresh_database(backend, tmp_path_factory.mktemp(backend)) as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        yield url


async def clear_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


def make_config(database_url: str, **overrides) -> dict:
    config = {
        "DATABASE_URL": database_url,
        "ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "AUTO_MIGRATE": False,
        "REDIS_URL": None,
        # Most tests check what the database holds; tests/test_response_cache.py
        # turns the cache on to check what it serves.
        "CACHE_ENABLED": False,
        # Visits written by the request itself; tests/test_response_cache.py checks
        # the buffered counter.
        "VIEW_COUNT_FLUSH_SECONDS": 0,
        # Jobs run when a test drains them (quartblog.jobs.drain) or starts a worker
        # (tests/test_jobs.py), not by a worker of the app's own in the background.
        "JOBS_IN_WEB": False,
        "JOB_RETRY_SECONDS": 0,
    }
    config.update(overrides)
    return config


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """argon2id with tiny costs in tests: the same code paths, a fraction of the time."""
    from argon2 import PasswordHasher

    from quartblog.services import users

    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(users, "_hasher", lambda: hasher)


@pytest.fixture
def app_config() -> dict:
    """Per-test setting overrides: a test may change them before using ``app``."""
    return {}


@pytest.fixture
async def app(database_url: str, app_config: dict):
    """The app, started (``before_serving`` ran) on a clean database."""
    application = create_app(make_config(database_url, **app_config))
    async with application.test_app():
        yield application
        await clear_tables(get_db(application).engine)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
async def db_session(app) -> AsyncIterator[AsyncSession]:
    """A session of the test's own, for setting up data and checking results."""
    async with get_db(app).session() as session:
        yield session


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def count_statements(app):
    """``with count_statements() as counter: ...`` counts the SQL the app runs."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = StatementCounter()
        engine = get_db(app).engine.sync_engine

        def before(conn, cursor, statement, parameters, context, executemany):
            if statement.strip().upper() != "BEGIN":  # SQLite's explicit BEGIN is not a query
                counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


# A real SMTP server for the test (aiosmtpd on a free port): ``mailbox`` in a test's arguments.
from .mailbox import mailbox  # noqa: E402,F401
