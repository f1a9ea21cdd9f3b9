"""Data migrations in batches, and revisions that can run again after a failure.

On the test-only ``demo`` revisions (tests/demo_revisions): ``demo_001`` adds
``posts.reading_minutes`` and ``posts.backfill_runs``, ``demo_002`` fills the first in
batches (``quartblog/migrations/batches.py``) and adds 1 to the second in the same UPDATE,
``demo_003`` is a schema change whose second operation fails while ``DEMO_FAIL=1``
(``quartblog/migrations/rerunnable.py``).  Each test gets a fresh database with a few
hundred posts; the ``alembic`` command runs as a person would run it (a subprocess),
and is killed with SIGKILL half-way through a run.
"""

from __future__ import annotations

import io
import math
from datetime import datetime, timedelta
import signal
import subprocess

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, insert, inspect, text

from quartblog.db import create_engine
from quartblog.migrations import alembic_config
from quartblog.models import Base

from .commands import BIN, command_env
from .conftest import MYSQL_BACKENDS, fresh_database
from .demo_revisions import demo_config, write_demo_ini

POSTS = 250
BATCH = 40  # 250 posts: 7 batches


def words_of(post_id: int) -> int:
    return (post_id * 37) % 900 + 1  # 1 to 900 words: 1 to 5 minutes


def expected_minutes(post_id: int, mode: str) -> int:
    body = "word " * words_of(post_id)
    return math.ceil(words_of(post_id) / 200) if mode == "python" else len(body) // 1000 + 1


@pytest.fixture
async def blog(backend, tmp_path):
    """A fresh database at head with POSTS posts; yields (url, engine)."""
    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            await run_in_process(engine, alembic_config(), "upgrade", "head")
            async with engine.begin() as conn:
                await conn.execute(insert(Base.metadata.tables["users"]),
                                   [{"id": 1, "username": "ada", "email": "ada@example.com", "password_hash": "x"}])
                await conn.execute(insert(Base.metadata.tables["posts"]),
                                   [{"id": i, "slug": f"post-{i}", "title": f"Post {i}", "body": "word " * words_of(i),
                                     "author_id": 1} for i in range(1, POSTS + 1)])
            yield url, engine
        finally:
            await engine.dispose()


async def run_in_process(engine, cfg, name: str, *args, begun: bool = False) -> None:
    """An Alembic command on a connection of ``engine`` (as the tests and the app's
    auto-upgrade run them); ``begun``: the connection is already in a transaction (as
    the app's, which took the migration lock with a SELECT)."""
    def run(sync_connection):
        cfg.attributes["connection"] = sync_connection
        getattr(command, name)(cfg, *args)

    async with engine.connect() as conn:
        if begun:
            await conn.execute(text("SELECT 1"))
        await conn.run_sync(run)
        await conn.commit()


def alembic_command(tmp_path, url: str, *args: str) -> list[str]:
    ini = write_demo_ini(tmp_path / "alembic.ini", url)
    return [str(BIN / "alembic"), "-c", str(ini), *args]


def demo_env(url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in command_env(url).items() if not k.startswith("DEMO_")}
    env.update({"DEMO_BATCH_SIZE": str(BATCH), "DEMO_REPORT_EVERY": "0", "PYTHONUNBUFFERED": "1", **settings})
    return env


def alembic(tmp_path, url: str, *args: str, **settings: str) -> subprocess.CompletedProcess:
    return subprocess.run(alembic_command(tmp_path, url, *args), env=demo_env(url, **settings),
                          capture_output=True, text=True, timeout=180)


async def versions(engine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))


async def rows(engine) -> dict[int, tuple]:
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT id, reading_minutes, backfill_runs FROM posts ORDER BY id"))
        return {r.id: (r.reading_minutes, r.backfill_runs) for r in result}


async def columns(engine, table: str) -> set[str]:
    async with engine.connect() as conn:
        return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns(table))}


async def indexes(engine, table: str) -> set[str]:
    async with engine.connect() as conn:
        return {i["name"] for i in await conn.run_sync(lambda c: inspect(c).get_indexes(table))}


def progress_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("demo_002 reading_minutes:")]


# --- batches ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode, begun", [("python", False), ("sql", False), ("python", True)],
                         ids=["python", "sql", "python-in-a-begun-transaction"])
async def test_a_backfill_writes_every_row_once_a_bounded_batch_at_a_time(blog, mode, begun, monkeypatch, capsys):
    url, engine = blog
    monkeypatch.setenv("DEMO_BATCH_SIZE", str(BATCH))
    monkeypatch.setenv("DEMO_REPORT_EVERY", "0")
    monkeypatch.setenv("DEMO_BATCH_MODE", mode)
    await run_in_process(engine, demo_config(), "upgrade", "demo_001")

    statements, commits = [], []
    sync_engine = engine.sync_engine
    offsets = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))
        if "OFFSET" in statement:  # SQLite writes LIMIT ? OFFSET ? for every LIMIT
            offsets.append(parameters[-1])

    count_commit = lambda conn: commits.append(1)  # noqa: E731
    event.listen(sync_engine, "before_cursor_execute", record)
    event.listen(sync_engine, "commit", count_commit)
    try:
        await run_in_process(engine, demo_config(), "upgrade", "demo_002", begun=begun)
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
        event.remove(sync_engine, "commit", count_commit)

    assert await rows(engine) == {i: (expected_minutes(i, mode), 1) for i in range(1, POSTS + 1)}
    lines = progress_lines(capsys.readouterr().out)
    assert lines[0].startswith("demo_002 reading_minutes: 0/250 rows")
    assert lines[-1].startswith("demo_002 reading_minutes: 250/250 rows (100.0%), 7 batches")
    assert lines[-1].endswith("(finished)")
    assert len(lines) == 1 + 7 + 1  # the start, each batch, the end

    # Keyset pagination on the id, a batch of BATCH rows at most: never OFFSET, never the table.
    batch_reads = [s for s in statements if s.startswith("SELECT posts.id") and "reading_minutes IS NULL" in s]
    assert len(batch_reads) == 7 + 1  # the last one finds nothing left
    assert all("ORDER BY posts.id" in s and "LIMIT" in s for s in batch_reads)
    assert set(offsets) <= {0}
    assert all("posts.id >" in s for s in batch_reads[1:])
    updates = [s for s in statements if s.startswith("UPDATE posts")]
    assert len(updates) == 7  # one statement a batch (SQLite: one executemany)
    assert all("reading_minutes IS NULL" in s for s in updates)  # a row already done is left alone
    assert len(commits) >= 7  # each batch committed on its own


async def test_killed_half_way_the_same_command_finishes_with_every_row_written_once(blog, tmp_path):
    url, engine = blog
    # demo_001 and demo_002 in one command (one transaction on PostgreSQL until the batches
    # commit it); stops inside batch 3, after its UPDATE and before its commit, and is killed.
    child = subprocess.Popen(alembic_command(tmp_path, url, "upgrade", "demo_002"),
                             env=demo_env(url, DEMO_PAUSE_AT_BATCH="3"), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        seen = []
        for line in child.stdout:
            seen.append(line)
            if line.startswith("PAUSED"):
                break
        assert seen and seen[-1].startswith("PAUSED demo_002 reading_minutes: 120/250 rows"), seen
        child.kill()  # SIGKILL
    finally:
        child.kill()
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL

    assert "demo_001" in await versions(engine)  # the expand revision is committed, the data one is not
    after_kill = await rows(engine)
    done = {i for i, (minutes, runs) in after_kill.items() if minutes is not None}
    assert done == set(range(1, 2 * BATCH + 1))  # batches 1 and 2 committed; batch 3 rolled back
    assert all(after_kill[i] == (None, 0) for i in range(2 * BATCH + 1, POSTS + 1))

    again = alembic(tmp_path, url, "upgrade", "demo_002")
    assert again.returncode == 0, again.stderr
    lines = progress_lines(again.stdout)
    assert lines[0].startswith("demo_002 reading_minutes: 0/170 rows")  # only what was left
    assert lines[-1].startswith("demo_002 reading_minutes: 170/170 rows (100.0%), 5 batches")
    assert "demo_002" in await versions(engine)
    assert await rows(engine) == {i: (expected_minutes(i, "python"), 1) for i in range(1, POSTS + 1)}


def test_offline_a_sql_backfill_is_one_update_and_a_python_one_asks_for_an_offline_branch(monkeypatch):
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/offline"
    monkeypatch.setenv("DEMO_BATCH_MODE", "sql")
    cfg = demo_config(url)
    cfg.output_buffer = io.StringIO()
    command.upgrade(cfg, "demo_001:demo_002", sql=True)
    script = cfg.output_buffer.getvalue()
    assert "UPDATE posts SET reading_minutes=" in script
    assert "WHERE posts.reading_minutes IS NULL" in script
    monkeypatch.setenv("DEMO_BATCH_MODE", "python")
    cfg = demo_config(url)
    cfg.output_buffer = io.StringIO()
    with pytest.raises(Exception, match="cannot be rendered offline"):
        command.upgrade(cfg, "demo_001:demo_002", sql=True)


# --- a revision that fails half-way ----------------------------------------------------------

async def test_a_revision_that_failed_half_way_completes_when_the_same_command_runs_again(blog, backend, tmp_path):
    url, engine = blog
    assert alembic(tmp_path, url, "upgrade", "demo_002").returncode == 0

    failed = alembic(tmp_path, url, "upgrade", "demo@head", DEMO_FAIL="1")
    assert failed.returncode != 0
    assert "demo_no_such_column" in failed.stderr
    assert "demo_002" in await versions(engine)
    if backend in MYSQL_BACKENDS:
        # DDL is not transactional: the first operation stayed, the version did not move.
        assert "summary_chars" in await columns(engine, "posts")
    else:
        # PostgreSQL, and SQLite (SQLAlchemy begins its transactions): all rolled back.
        assert "summary_chars" not in await columns(engine, "posts")
    assert "ix_posts_reading_minutes" not in await indexes(engine, "posts")

    fixed = alembic(tmp_path, url, "upgrade", "demo@head")  # the cause is gone: DEMO_FAIL unset
    assert fixed.returncode == 0, fixed.stderr
    assert "demo_003" in await versions(engine)
    assert "summary_chars" in await columns(engine, "posts")
    assert "ix_posts_reading_minutes" in await indexes(engine, "posts")

    down = alembic(tmp_path, url, "downgrade", "demo_002")
    assert down.returncode == 0, down.stderr
    assert "summary_chars" not in await columns(engine, "posts")


async def test_written_with_plain_operations_it_is_stuck_on_mysql_only(blog, backend, tmp_path):
    url, engine = blog
    assert alembic(tmp_path, url, "upgrade", "demo_002").returncode == 0
    plain = {"DEMO_PLAIN_DDL": "1"}
    assert alembic(tmp_path, url, "upgrade", "demo@head", DEMO_FAIL="1", **plain).returncode != 0

    again = alembic(tmp_path, url, "upgrade", "demo@head", **plain)
    if backend in MYSQL_BACKENDS:
        assert again.returncode != 0
        assert "Duplicate column name 'summary_chars'" in again.stderr
        assert "demo_002" in await versions(engine)  # stuck until repaired by hand
    else:
        assert again.returncode == 0, again.stderr
        assert "demo_003" in await versions(engine)


async def test_computed_values_of_every_kind_arrive_intact(backend, tmp_path):
    """Python mode's one-statement writes (PostgreSQL arrays, MySQL JSON_TABLE, else
    executemany) keep quotes, backslashes, percent signs, CJK and emoji, floats, NULLs
    and datetimes (not a JSON value: MySQL then falls back to executemany)."""
    import sqlalchemy as sa
    from alembic.operations import Operations

    from quartblog.migrations.batches import update_in_batches

    metadata = sa.MetaData()
    things = sa.Table("batch_things", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                      sa.Column("n", sa.Integer), sa.Column("label", sa.Text), sa.Column("score", sa.Float),
                      sa.Column("at", sa.DateTime))
    label = lambda n: f"O'Reilly \"{n}\" \\ 100% 数据库 😀"  # noqa: E731
    score = lambda n: None if n % 4 == 0 else n / 8  # noqa: E731
    at = lambda n: datetime(2026, 11, 25, 12, 0, 0) + timedelta(minutes=n)  # noqa: E731

    def run(sync_connection, **kwargs):
        with Operations.context(MigrationContext.configure(sync_connection)):
            return update_in_batches(things, batch_size=3, out=io.StringIO(), **kwargs)

    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                await conn.execute(things.insert(), [{"id": n, "n": n} for n in range(1, 11)])
            async with engine.connect() as conn:
                first = await conn.run_sync(run, todo=things.c.label.is_(None), columns=[things.c.n],
                                            compute=lambda rows: [{"id": r.id, "label": label(r.n), "score": score(r.n)}
                                                                  for r in rows])
                second = await conn.run_sync(run, todo=things.c.at.is_(None), columns=[things.c.n],
                                             compute=lambda rows: [{"id": r.id, "at": at(r.n)} for r in rows])
            assert (first.done, first.batches, second.done, second.batches) == (10, 4, 10, 4)
            async with engine.connect() as conn:
                stored = (await conn.execute(sa.select(things).order_by(things.c.id))).all()
            assert [tuple(row) for row in stored] == [(n, n, label(n), score(n), at(n)) for n in range(1, 11)]
        finally:
            await engine.dispose()
