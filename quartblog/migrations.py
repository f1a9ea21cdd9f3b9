"""Alembic from inside the app: the start-up check and the locked auto-upgrade.

The migration scripts are part of the package, in ``quartblog/alembic/``
(``env.py``, ``script.py.mako``, ``versions/``), so a wheel carries them: the
repository's ``alembic.ini`` points there, and ``alembic_config()`` builds the same
configuration without any file (``quart --app quartblog db ...``, the start-up
check).  ``env.py`` runs on a connection handed to it in
``config.attributes["connection"]`` when there is one, which is how the app (and
the tests) run migrations on their own async engine.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import re
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, AsyncIterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .db import DatabaseUnavailable, create_engine, is_unavailable, masked

if TYPE_CHECKING:
    from quart import Quart

    from .db import Database

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
SCRIPT_LOCATION = PACKAGE_DIR / "alembic"
# The repository (alembic.ini, instance/) when running from a checkout.
PROJECT_ROOT = PACKAGE_DIR.parent
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
FILE_TEMPLATE = "%%(rev)s_%%(slug)s"
LOCK_NAME = "quartblog_migrate"
LOCK_TIMEOUT_SECONDS = 300


def include_object_for(dialect_name: str):
    """Autogenerate's filter (env.py, the tests): the search indexes exist only on their
    databases (FULLTEXT on MySQL/MariaDB, trigram on PostgreSQL), so elsewhere they are
    not reported as missing."""
    from .models import FULLTEXT_DIALECTS, FULLTEXT_INDEX, TRIGRAM_DIALECTS, TRIGRAM_INDEX

    only_on = {FULLTEXT_INDEX: FULLTEXT_DIALECTS, TRIGRAM_INDEX: TRIGRAM_DIALECTS}

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        return not (type_ == "index" and name in only_on and dialect_name not in only_on[name])

    return include_object


_BOOLEAN_LITERALS = {"0": False, "false": False, "1": True, "true": True}


def compare_server_default(context, inspected_column, metadata_column, inspected_default,
                           metadata_default, rendered_metadata_default):
    """Autogenerate's server-default comparison (env.py), with one spelling fixed: a
    boolean default (``sql_false()``) is reflected as ``0`` by MySQL/MariaDB, which stores
    BOOL as TINYINT(1), and as ``false`` elsewhere; the same value is not a difference.
    Anything else: ``None``, Alembic's own comparison."""
    from sqlalchemy import Boolean

    if inspected_default and rendered_metadata_default and \
            _is_now(inspected_default) and _is_now(rendered_metadata_default):
        return False  # CURRENT_TIMESTAMP, reflected by MariaDB as current_timestamp(6) on DATETIME(6)
    if isinstance(metadata_column.type, Boolean) and inspected_default and rendered_metadata_default:
        reflected = _BOOLEAN_LITERALS.get(inspected_default.strip("'\"").lower())
        wanted = _BOOLEAN_LITERALS.get(rendered_metadata_default.strip("'\"").lower())
        if reflected is not None and wanted is not None:
            return reflected != wanted
    return None


_NOW = re.compile(r"(current_timestamp|now|localtimestamp)(\(\d*\))?")


def _is_now(default: str) -> bool:
    """Is this server default the current time, however the database spells it?"""
    return _NOW.fullmatch(default.strip().strip("'\"").strip().lower()) is not None


class SchemaOutOfDate(RuntimeError):
    """The database is behind the newest migration."""


def alembic_config(url: str | None = None, stdout: IO[str] | None = None) -> Config:
    """Alembic's configuration for the migrations shipped in the package (no
    alembic.ini needed).  ``url`` (the app's database) wins over everything in env.py."""
    cfg = Config(stdout=stdout or sys.stdout)
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("file_template", FILE_TEMPLATE)
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.attributes["database_url"] = str(url)
    return cfg


@functools.cache
def _heads() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def default_instance_path() -> Path:
    """The app's instance folder (the default SQLite file, media/), found without
    building the app: ``instance/`` beside a checkout (an editable install), and
    ``./instance/`` in the working directory for an installed package (not Quart's
    ``<venv>/var/quartblog-instance``, hidden inside the virtualenv)."""
    from flask.sansio.scaffold import find_package  # what Quart itself uses

    prefix, package_path = find_package(__package__ or "quartblog")
    if prefix is None:
        return Path(package_path) / "instance"
    return Path.cwd() / "instance"


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
    if backend in ("mysql", "mariadb"):
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
