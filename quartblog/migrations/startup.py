"""The app's side of the migrations: the start-up revision check and the locked
auto-upgrade (QUARTBLOG_AUTO_MIGRATE=1, safe with many workers starting together)."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, AsyncIterator

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..types import MYSQL_DIALECTS
from ..db import DatabaseUnavailable, create_engine, is_unavailable, masked
from .config import alembic_config

if TYPE_CHECKING:
    from quart import Quart

    from ..db import Database

log = logging.getLogger("quartblog.migrations")

LOCK_NAME = "quartblog_migrate"
LOCK_TIMEOUT_SECONDS = 300


class SchemaOutOfDate(RuntimeError):
    """The database is behind the newest migration."""


@functools.cache
def _heads() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def head_revisions() -> set[str]:
    """The code's newest revisions (read once: the scripts do not change while running)."""
    return set(_heads())


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision the code's scripts hold."""
    return frozenset(rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def _current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def _upgrade(connection: Connection, revision: str = "head") -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def current_revisions(conn: AsyncConnection) -> set[str]:
    return await conn.run_sync(_current_revisions)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade under a lock, so that workers starting together do not race."""
    async with engine.connect() as conn:
        async with migration_lock(conn, engine):
            await conn.run_sync(_upgrade, revision)
            await conn.commit()


@asynccontextmanager
async def migration_lock(conn: AsyncConnection, engine: AsyncEngine) -> AsyncIterator[None]:
    backend = engine.url.get_backend_name()
    if backend in MYSQL_DIALECTS:
        got = (await conn.execute(
            text("SELECT GET_LOCK(:name, :timeout)"),
            {"name": LOCK_NAME, "timeout": LOCK_TIMEOUT_SECONDS},
        )).scalar()
        if got != 1:
            raise SchemaOutOfDate("timed out waiting for another worker's migration lock")
        try:
            yield
        finally:
            await conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
    elif backend == "postgresql":
        await conn.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": LOCK_NAME})
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": LOCK_NAME})
    else:
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        handle = await asyncio.to_thread(_acquire_file_lock, Path(database + ".migrate-lock"))
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def _acquire_file_lock(path: Path) -> IO[str]:
    handle = open(path, "a+")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


async def ensure_schema_current(app: "Quart", db: "Database") -> None:
    """Reach the database, then compare its revision with head.  An outage error
    (``db.is_unavailable``) propagates as is; any other failure to connect is a
    ``DatabaseUnavailable`` that waiting will not fix."""
    engine = db.engine
    try:
        async with engine.connect() as conn:
            current = await current_revisions(conn)
    except Exception as exc:  # the driver's own error types differ
        if is_unavailable(exc):
            raise
        raise DatabaseUnavailable(
            f"cannot connect to the database at {masked(engine.url)}: {exc}"
        ) from exc
    heads = head_revisions()
    if current == heads:
        return
    newer = current - known_revisions()
    if newer:
        # A newer release's migration ran (the expand step of a deployment, see
        # docs/migrations.md): it keeps what this release uses, so serve on it.
        # Only a revision this code knows is judged behind.
        log.warning("the database at %s is at revision %s, which this release does not know "
                    "(a newer release's migration): serving on it", masked(engine.url), ", ".join(sorted(newer)))
        return
    if app.config.get("AUTO_MIGRATE"):
        log.info("upgrading the database at %s to %s", masked(engine.url), ", ".join(sorted(heads)))
        if engine.url.get_backend_name() == "sqlite":
            await upgrade(engine)
            return
        # Its own engine, with no statement time limit: DDL on big tables, the lock wait.
        migrator = create_engine(engine.url, pool_size=1, max_overflow=0,
                                 connect_timeout=app.config["DB_CONNECT_TIMEOUT"], statement_timeout=0)
        try:
            await upgrade(migrator)
        finally:
            await migrator.dispose()
        return
    raise SchemaOutOfDate(
        f"the database at {masked(engine.url)} is at revision "
        f"{', '.join(sorted(current)) or 'none (empty)'}, the code needs {', '.join(sorted(heads))}: "
        "run `alembic upgrade head` (or start with QUARTBLOG_AUTO_MIGRATE=1)"
    )
