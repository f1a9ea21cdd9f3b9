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
        assert "ignored for PRIMARY key" not in upgraded.stderr  # MariaDB's note about pk_ names
        assert "Running upgrade  -> 0001" in upgraded.stderr
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


# --- offline (--sql): every revision, up and down, for every dialect ----------------

OFFLINE_URLS = {
    "sqlite": "sqlite+aiosqlite:////nonexistent/dir/offline.db",
    "mysql": "mysql+asyncmy://nobody@127.0.0.1:1/offline",
    "postgresql": "postgresql+asyncpg://nobody@127.0.0.1:1/offline",
}


def offline(url: str, name: str, revisions: str) -> str:
    import io

    cfg = alembic_config(url)
    cfg.output_buffer = io.StringIO()
    getattr(command, name)(cfg, revisions, sql=True)
    return cfg.output_buffer.getvalue()


@pytest.mark.parametrize("dialect", sorted(OFFLINE_URLS))
def test_every_revision_renders_offline_up_and_down(dialect):
    url = OFFLINE_URLS[dialect]
    previous = ["base", *REVISIONS[:-1]]
    for before, revision in zip(previous, REVISIONS):
        up = offline(url, "upgrade", f"{before}:{revision}")
        assert f"Running upgrade {'' if before == 'base' else before} -> {revision}" in up
        down = offline(url, "downgrade", f"{revision}:{before}")
        assert f"Running downgrade {revision} -> {'' if before == 'base' else before}" in down
    whole = offline(url, "downgrade", f"{REVISIONS[-1]}:base")
    assert "DROP TABLE posts" in whole
    if dialect == "sqlite":  # table rebuilds must not cascade: as online, foreign keys off around them
        assert whole.startswith("PRAGMA foreign_keys=OFF;") and whole.rstrip().endswith("PRAGMA foreign_keys=ON;")


def migrations_copy_with(tmp_path, monkeypatch, name: str, upgrade_body: str):
    """The migration scripts plus one more revision on top of head."""
    import shutil

    from quartblog import migrations

    copy = tmp_path / "alembic"
    shutil.copytree(migrations.SCRIPT_LOCATION, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "versions" / f"{name}.py").write_text(
        f'"""{name}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {name[:4]!r}\ndown_revision = {REVISIONS[-1]!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{upgrade_body}\n\n\ndef downgrade():\n    pass\n")
    monkeypatch.setattr(migrations, "SCRIPT_LOCATION", copy)


def test_a_new_table_rebuild_renders_offline_on_sqlite_without_copy_from(tmp_path, monkeypatch):
    """What autogenerate writes for a column dropped, or a foreign key added to posts:
    batch mode rebuilds the table; offline it is read from the shadow database."""
    migrations_copy_with(tmp_path, monkeypatch, "9001_bookmarked", (
        "    with op.batch_alter_table('comments') as batch_op:\n"
        "        batch_op.add_column(sa.Column('reply_to_id', sa.Integer(), nullable=True))\n"
        "        batch_op.create_foreign_key('fk_comments_reply_to_id_comments', 'comments', ['reply_to_id'], ['id'])\n"
        "    with op.batch_alter_table('users') as batch_op:\n"
        "        batch_op.drop_column('bio')"))
    sql = offline(OFFLINE_URLS["sqlite"], "upgrade", f"{REVISIONS[-1]}:9001")
    assert "CREATE TABLE _alembic_tmp_comments" in sql and "FOREIGN KEY(reply_to_id) REFERENCES comments" in sql
    assert "CREATE TABLE _alembic_tmp_users" in sql and "bio" not in sql.split("_alembic_tmp_users (")[1].split(");")[0]


def test_a_step_that_cannot_render_offline_is_named_before_anything_is_printed(tmp_path, monkeypatch):
    from alembic.util import CommandError

    migrations_copy_with(tmp_path, monkeypatch, "9001_reads_rows",
                         "    ids = op.get_bind().execute(sa.text('SELECT id FROM users')).fetchall()")
    for url in OFFLINE_URLS.values():
        import io

        cfg = alembic_config(url)
        cfg.output_buffer = io.StringIO()
        with pytest.raises(CommandError) as error:
            command.upgrade(cfg, "head", sql=True)
        assert "cannot render the SQL offline for migration 9001_reads_rows" in str(error.value)
        assert cfg.output_buffer.getvalue() == ""  # not half a script behind a `>` redirect


def test_sqlite_offline_scripts_run_and_keep_the_rows_of_rebuilt_tables(tmp_path):
    """The --sql scripts themselves, applied with sqlite3: up to head, rows written, then
    down past the revisions that rebuild users and posts (their rows survive: no cascade)."""
    import sqlite3

    url = OFFLINE_URLS["sqlite"]
    database = sqlite3.connect(tmp_path / "offline.db")
    database.executescript(offline(url, "upgrade", f"base:{REVISIONS[-1]}"))
    database.executescript(
        "INSERT INTO users (id, username, email, password_hash, role, created_at) "
        "VALUES (1, 'ada', 'ada@example.com', 'x', 'author', '2026-11-24 07:06:28');"
        "INSERT INTO posts (id, slug, title, description, body, created_at, updated_at, author_id) "
        "VALUES (1, 'first', 'First', 'd', 'Body', '2026-11-24 07:06:28', '2026-11-24 07:06:28', 1);")
    database.executescript(offline(url, "downgrade", f"{REVISIONS[-1]}:0002"))
    assert database.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002",)]
    assert database.execute("SELECT slug, author_id FROM posts").fetchall() == [("first", 1)]
    assert "description" not in {row[1] for row in database.execute("PRAGMA table_info(posts)")}
    assert database.execute("SELECT username FROM users").fetchall() == [("ada",)]
    database.close()


async def test_post_status_migration_publishes_existing_posts_at_their_created_time(engine):
    await alembic(engine, "upgrade", "0001")
    await write_original_blog_rows(engine)
    await alembic(engine, "upgrade", "0011")
    await alembic(engine, "upgrade", "0008")
    assert await scalar(engine, "SELECT count(*) FROM posts WHERE status = 'published'") == 2
    assert await scalar(engine, "SELECT count(*) FROM posts WHERE published_at = created_at") == 2
    await execute(engine, "UPDATE posts SET status = 'draft', published_at = NULL WHERE id = :id", [{"id": 2}])
    await alembic(engine, "downgrade", "0011")
    assert {"status", "published_at"}.isdisjoint(await columns(engine, "posts"))
    assert await scalar(engine, "SELECT count(*) FROM posts") == 2  # the draft is kept
    await alembic(engine, "upgrade", "0008")
    assert await scalar(engine, "SELECT count(*) FROM posts WHERE status = 'published' "
                                "AND published_at = created_at") == 2


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
