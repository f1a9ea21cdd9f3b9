"""Online DDL helpers (quartblog/migrations/online.py): what each database is asked for.

A revision on top of head uses the helpers; the test runs it with Alembic, as a deploy
does, and reads the statements the database received.  MariaDB must name its algorithm
(and refuse loudly when it cannot keep it), PostgreSQL must build and drop indexes
CONCURRENTLY outside a transaction, SQLite does the plain thing.  ``--sql`` renders the
same statements.
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
from alembic import command
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import OperationalError

from quartblog.migrations import alembic_config

from .test_migrations import OFFLINE_URLS, REVISIONS, alembic, current, engine, migrations_copy_with  # noqa: F401

EXPAND = """\
    online.add_column("comments", sa.Column("edited", sa.Boolean(), server_default=sa.false(), nullable=False))
    online.create_index("ix_comments_author_id_created_at", "comments", ["author_id", "created_at"])"""
CONTRACT = """\
    online.drop_index("ix_comments_author_id_created_at", "comments")
    online.drop_column("comments", "edited")"""


@contextmanager
def statements_of(engine):
    """The DDL the database receives (CREATE, ALTER, DROP), in order."""
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("CREATE", "ALTER", "DROP")):
            seen.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def comments_schema(engine) -> tuple[set[str], set[str]]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: (
            {col["name"] for col in inspect(c).get_columns("comments")},
            {ix["name"] for ix in inspect(c).get_indexes("comments")}))


async def test_expand_and_contract_ask_each_database_for_online_ddl(engine, backend, tmp_path, monkeypatch):
    migrations_copy_with(tmp_path, monkeypatch, "9001_online", EXPAND, downgrade_body=CONTRACT)
    await alembic(engine, "upgrade", REVISIONS[-1])
    with statements_of(engine) as up:
        await alembic(engine, "upgrade", "9001")
    columns, indexes = await comments_schema(engine)
    assert "edited" in columns and "ix_comments_author_id_created_at" in indexes
    with statements_of(engine) as down:
        await alembic(engine, "downgrade", REVISIONS[-1])
    columns, indexes = await comments_schema(engine)
    assert "edited" not in columns and "ix_comments_author_id_created_at" not in indexes
    if backend in ("asyncmy", "aiomysql"):
        assert up == [
            "ALTER TABLE comments ADD COLUMN edited BOOL NOT NULL DEFAULT false, ALGORITHM=INSTANT",
            "CREATE INDEX ix_comments_author_id_created_at ON comments (author_id, created_at) "
            "ALGORITHM=INPLACE LOCK=NONE",
        ]
        assert down == [
            "ALTER TABLE comments DROP INDEX ix_comments_author_id_created_at, ALGORITHM=NOCOPY, LOCK=NONE",
            "ALTER TABLE comments DROP COLUMN edited, ALGORITHM=INSTANT",
        ]
    elif backend == "asyncpg":  # CONCURRENTLY fails inside a transaction block: these ran outside
        assert up == [
            "ALTER TABLE comments ADD COLUMN edited BOOLEAN DEFAULT false NOT NULL",
            "CREATE INDEX CONCURRENTLY ix_comments_author_id_created_at ON comments (author_id, created_at)",
        ]
        assert down == ["DROP INDEX CONCURRENTLY ix_comments_author_id_created_at",
                        "ALTER TABLE comments DROP COLUMN edited"]
    else:
        assert up == ["ALTER TABLE comments ADD COLUMN edited BOOLEAN DEFAULT 0 NOT NULL",
                      "CREATE INDEX ix_comments_author_id_created_at ON comments (author_id, created_at)"]
        assert down == ["DROP INDEX ix_comments_author_id_created_at", "ALTER TABLE comments DROP COLUMN edited"]


async def test_mariadb_refuses_an_impossible_instant_change_instead_of_copying_the_table(
        engine, backend, tmp_path, monkeypatch):
    """posts has a FULLTEXT index on MariaDB: a column cannot be added INSTANT, nor in place
    without a lock.  The revision fails with the server's reason; nothing was copied."""
    if backend not in ("asyncmy", "aiomysql"):
        pytest.skip("MariaDB's ALGORITHM clause")
    migrations_copy_with(tmp_path, monkeypatch, "9001_posts_column",
                         '    online.add_column("posts", sa.Column("pinned", sa.Integer(), nullable=True))')
    await alembic(engine, "upgrade", REVISIONS[-1])
    with pytest.raises(OperationalError, match="ALGORITHM=INSTANT is not supported"):
        await alembic(engine, "upgrade", "9001")
    assert await current(engine) == REVISIONS[-1]

    migrations_copy_with(tmp_path / "inplace", monkeypatch, "9001_posts_column",
                         '    online.add_column("posts", sa.Column("pinned", sa.Integer(), nullable=True), '
                         'algorithm="INPLACE")')
    with pytest.raises(OperationalError, match="LOCK=NONE is not supported. Reason: Fulltext"):
        await alembic(engine, "upgrade", "9001")
    async with engine.connect() as conn:
        columns = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("posts")})
    assert "pinned" not in columns


async def test_a_failed_concurrent_index_build_is_built_again_by_the_next_run(engine, backend, tmp_path, monkeypatch):
    """PostgreSQL leaves an INVALID index when CREATE INDEX CONCURRENTLY fails (here: a
    duplicate for a unique index); once the cause is fixed, the same command finishes."""
    if backend != "asyncpg":
        pytest.skip("PostgreSQL's CONCURRENTLY")
    migrations_copy_with(tmp_path, monkeypatch, "9001_unique_setting_values",
                         '    online.create_index("ix_settings_value", "settings", ["value"], unique=True)')
    await alembic(engine, "upgrade", REVISIONS[-1])
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO settings (key, value) VALUES ('a', 'same'), ('b', 'same')"))
    with pytest.raises(Exception, match="could not create unique index"):
        await alembic(engine, "upgrade", "9001")
    async with engine.begin() as conn:
        assert (await conn.execute(text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = 'ix_settings_value'"))).scalar() is False
        await conn.execute(text("DELETE FROM settings WHERE key = 'b'"))
    await alembic(engine, "upgrade", "9001")
    assert await current(engine) == "9001"
    async with engine.connect() as conn:
        assert (await conn.execute(text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = 'ix_settings_value'"))).scalar() is True


@pytest.mark.parametrize("dialect, expected", [
    ("mysql", ["ALTER TABLE comments ADD COLUMN edited BOOL NOT NULL DEFAULT false, ALGORITHM=INSTANT;",
               "CREATE INDEX ix_comments_author_id_created_at ON comments (author_id, created_at) "
               "ALGORITHM=INPLACE LOCK=NONE;"]),
    ("postgresql", ["ALTER TABLE comments ADD COLUMN edited BOOLEAN DEFAULT false NOT NULL;", "COMMIT;",
                    "CREATE INDEX CONCURRENTLY ix_comments_author_id_created_at ON comments (author_id, created_at);",
                    "BEGIN;"]),
    ("sqlite", ["ALTER TABLE comments ADD COLUMN edited BOOLEAN DEFAULT 0 NOT NULL;",
                "CREATE INDEX ix_comments_author_id_created_at ON comments (author_id, created_at);"]),
])
def test_the_helpers_render_offline(dialect, expected, tmp_path, monkeypatch):
    migrations_copy_with(tmp_path, monkeypatch, "9001_online", EXPAND, downgrade_body=CONTRACT)
    cfg = alembic_config(OFFLINE_URLS[dialect])
    cfg.output_buffer = io.StringIO()
    command.upgrade(cfg, f"{REVISIONS[-1]}:9001", sql=True)
    lines = [" ".join(line.split()) for line in cfg.output_buffer.getvalue().split("\n\n")]
    start = next(i for i, line in enumerate(lines) if "ADD COLUMN edited" in line)
    assert lines[start:start + len(expected)] == expected
    cfg.output_buffer = io.StringIO()
    command.downgrade(cfg, f"9001:{REVISIONS[-1]}", sql=True)
    assert "DROP COLUMN edited" in cfg.output_buffer.getvalue()


async def test_the_apps_locked_upgrade_runs_online_revisions(engine, tmp_path, monkeypatch):
    """AUTO_MIGRATE's path: the lock's statement has begun a transaction on the connection;
    env.py commits it so that CONCURRENTLY can run outside one."""
    from quartblog.migrations import upgrade

    migrations_copy_with(tmp_path, monkeypatch, "9001_online", EXPAND, downgrade_body=CONTRACT)
    await upgrade(engine)
    assert await current(engine) == "9001"
    _, indexes = await comments_schema(engine)
    assert "ix_comments_author_id_created_at" in indexes
