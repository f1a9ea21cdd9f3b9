"""Alembic migrations: history, up and down, data kept, models in step with migrations.

Each test gets a fresh, empty database on each backend.  Most run Alembic's
command API on a connection of the async engine (as the app's auto-migrate
does); a few run the ``alembic`` command itself, as a developer would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from quartblog.db import create_engine
from quartblog.migrations import PROJECT_ROOT, alembic_config, include_object_for
from quartblog.models import Base

from .conftest import fresh_database

REVISIONS = [r.revision for r in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))]


@pytest.fixture
async def engine(backend, tmp_path):
    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()


async def alembic(engine, name: str, *args) -> None:
    """Run an Alembic command (upgrade, downgrade ...) on a connection of ``engine``."""

    def run(sync_connection):
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_connection
        getattr(command, name)(cfg, *args)

    async with engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()


async def current(engine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def tables(engine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names())) - {"alembic_version"}


async def columns(engine, table: str) -> set[str]:
    async with engine.connect() as conn:
        return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns(table))}


async def scalar(engine, sql: str, **params):
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def execute(engine, sql: str, rows: list[dict]) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), rows)


NOW = datetime(2026, 11, 24, 7, 6, 28, 123456, tzinfo=timezone.utc).replace(tzinfo=None)


async def write_original_blog_rows(engine) -> None:
    """Rows in the tables of revision 0001, written with plain SQL."""
    await execute(engine, "INSERT INTO users (id, username, email, password_hash, role, created_at) "
                          "VALUES (:id, :u, :e, 'x', 'author', :t)",
                  [{"id": 1, "u": "ada", "e": "ada@example.com", "t": NOW},
                   {"id": 2, "u": "bob", "e": "bob@example.com", "t": NOW}])
    await execute(engine, "INSERT INTO posts (id, slug, title, body, created_at, updated_at, author_id) "
                          "VALUES (:id, :s, :title, :body, :t, :t, 1)",
                  [{"id": 1, "s": "first", "title": "First",
                    "body": "# Heading\n\nThe **first** paragraph, with [a link](http://example.com).\n\nMore.",
                    "t": NOW},
                   {"id": 2, "s": "second", "title": "Second", "body": "短文 😀 " + "word " * 100, "t": NOW}])
    await execute(engine, "INSERT INTO tags (id, name) VALUES (:id, :n)", [{"id": 1, "n": "python"}])
    await execute(engine, "INSERT INTO post_tags (post_id, tag_id) VALUES (:p, :t)", [{"p": 1, "t": 1}])
    await execute(engine, "INSERT INTO comments (id, body, created_at, updated_at, post_id, author_id) "
                          "VALUES (1, 'Nice 👍', :t, :t, 1, 2)", [{"t": NOW}])


def test_history_is_linear_with_a_single_head():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert len(REVISIONS) >= 3
    for revision in script.walk_revisions():
        assert revision.doc, f"revision {revision.revision} has no message"


async def test_upgrade_head_downgrade_base_upgrade_head(engine):
    await alembic(engine, "upgrade", "head")
    assert await current(engine) == REVISIONS[-1]
    assert await tables(engine) == set(Base.metadata.tables)
    await alembic(engine, "downgrade", "base")
    assert await current(engine) is None
    assert await tables(engine) == set()
    await alembic(engine, "upgrade", "head")
    assert await tables(engine) == set(Base.metadata.tables)


async def test_each_revision_steps_down_and_back_up(engine):
    await alembic(engine, "upgrade", "head")
    for revision in reversed(REVISIONS):
        await alembic(engine, "downgrade", "-1")
        await alembic(engine, "upgrade", "+1")
        assert await current(engine) == revision
        await alembic(engine, "downgrade", "-1")
    assert await current(engine) is None
    for revision in REVISIONS:
        await alembic(engine, "upgrade", "+1")
        assert await current(engine) == revision


async def test_models_and_migrations_do_not_differ(engine):
    await alembic(engine, "upgrade", "head")
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c, opts={
                "compare_type": True, "include_object": include_object_for(c.dialect.name)}), Base.metadata))
    assert diff == []


async def test_rows_survive_a_downgrade_of_unrelated_revisions_and_the_upgrade_back(engine):
    await alembic(engine, "upgrade", "0001")
    await write_original_blog_rows(engine)
    await alembic(engine, "upgrade", "head")
    await alembic(engine, "downgrade", "0001")  # drops follows, favorites, posts.description
    assert "follows" not in await tables(engine)
    assert await scalar(engine, "SELECT count(*) FROM users") == 2
    assert await scalar(engine, "SELECT body FROM comments WHERE id = 1") == "Nice 👍"
    await alembic(engine, "upgrade", "head")
    assert await scalar(engine, "SELECT count(*) FROM posts") == 2
    assert await scalar(engine, "SELECT count(*) FROM post_tags") == 1
    assert (await scalar(engine, "SELECT body FROM posts WHERE id = 2")).startswith("短文 😀")
    assert await scalar(engine, "SELECT body FROM comments WHERE id = 1") == "Nice 👍"


async def test_description_migration_fills_existing_posts_from_their_body(engine):
    await alembic(engine, "upgrade", "0002")
    await write_original_blog_rows(engine)
    assert "description" not in await columns(engine, "posts")
    await alembic(engine, "upgrade", "0003")
    first = await scalar(engine, "SELECT description FROM posts WHERE id = 1")
    second = await scalar(engine, "SELECT description FROM posts WHERE id = 2")
    assert first == "Heading"  # the first block, Markdown stripped
    assert second.startswith("短文 😀 word") and second.endswith("…") and len(second) <= 200
    await alembic(engine, "downgrade", "0002")
    assert "description" not in await columns(engine, "posts")
    assert await scalar(engine, "SELECT count(*) FROM posts") == 2


# --- the alembic command itself ------------------------------------------------------

def run_alembic(*args: str, url: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "QUARTBLOG_DATABASE_URL"}
    if url:
        env["QUARTBLOG_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_alembic_command_uses_quartblog_database_url_and_checks_clean(backend, tmp_path):
    async with fresh_database(backend, tmp_path) as url:
        upgraded = run_alembic("upgrade", "head", url=url)
        assert upgraded.returncode == 0, upgraded.stderr
        check = run_alembic("check", url=url)
        assert check.returncode == 0, check.stderr
        assert "No new upgrade operations detected" in check.stdout + check.stderr
        now = run_alembic("current", url=url)
        assert f"{REVISIONS[-1]} (head)" in now.stdout
        down = run_alembic("downgrade", "base", url=url)
        assert down.returncode == 0, down.stderr


def test_history_lists_every_revision():
    history = run_alembic("history", url="sqlite+aiosqlite:///unused.db")
    assert history.returncode == 0, history.stderr
    for revision in REVISIONS:
        assert revision in history.stdout


@pytest.mark.parametrize("url, dialect_marker", [
    ("mysql+asyncmy://nobody@127.0.0.1:1/offline", "ENGINE=InnoDB"),
    ("sqlite+aiosqlite:////nonexistent/dir/offline.db", "CREATE TABLE posts"),
])
def test_offline_mode_prints_sql_without_a_database(url, dialect_marker):
    offline = run_alembic("upgrade", "head", "--sql", url=url)
    assert offline.returncode == 0, offline.stderr
    assert dialect_marker in offline.stdout
    assert "UPDATE posts SET description" in offline.stdout
    assert "INSERT INTO alembic_version" in offline.stdout


async def test_moderation_migration_keeps_comments_shown_and_accounts_enabled(engine):
    await alembic(engine, "upgrade", "0001")
    await write_original_blog_rows(engine)
    await alembic(engine, "upgrade", "0007")
    await alembic(engine, "upgrade", "0009")
    assert await scalar(engine, "SELECT state FROM comments WHERE id = 1") == "published"
    assert await scalar(engine, "SELECT count(*) FROM users WHERE disabled = :no", no=False) == 2
    await execute(engine, "UPDATE comments SET state = 'hidden' WHERE id = :id", [{"id": 1}])
    await execute(engine, "INSERT INTO settings VALUES (:k, :v)",
                  [{"k": "moderation.hold_new_accounts_days", "v": "3"}])
    await execute(engine, "INSERT INTO audit_log (created_at, actor_id, actor_name, action, target, detail) "
                          "VALUES (:t, 1, 'ada', 'user.role', 'user:bob', '')", [{"t": NOW}])
    await execute(engine, "DELETE FROM users WHERE id = :id", [{"id": 1}])  # posts go, the audit row stays
    assert await scalar(engine, "SELECT actor_name FROM audit_log WHERE actor_id IS NULL") == "ada"
    await alembic(engine, "downgrade", "0007")
    assert {"settings", "audit_log"}.isdisjoint(await tables(engine))
    assert "state" not in await columns(engine, "comments") and "disabled" not in await columns(engine, "users")
    assert await scalar(engine, "SELECT count(*) FROM users") == 1
    await alembic(engine, "upgrade", "head")
    assert await scalar(engine, "SELECT count(*) FROM users WHERE disabled = :no", no=False) == 1
