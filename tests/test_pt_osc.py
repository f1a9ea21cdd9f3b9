"""``online.add_column(..., via="pt-osc")`` (quartblog/migrations/pt_osc.py): on MariaDB the
ALTER runs through pt-online-schema-change and the tables that reference ``posts`` keep
enforcing their foreign keys against the new table; a failed run leaves ``posts`` as it
was, with no shadow table or trigger behind; on PostgreSQL and SQLite the same call is the
backend's plain online path; ``--sql`` prints the command to run.  Under live traffic:
tests/test_live_pt_osc.py.
"""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from quartblog.migrations import online, pt_osc
from quartblog.db import create_engine
from quartblog.migrations import upgrade
from quartblog.cli.seed import seed_database
from quartblog.web.unit_of_work import is_retryable

from .conftest import fresh_database

MYSQL_BACKENDS = ("asyncmy", "aiomysql")


def _columns(conn, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def _migrate(conn, *calls) -> None:
    """Run online helpers as a revision would (on the connection, inside run_sync)."""
    context = MigrationContext.configure(conn)
    with Operations.context(context):
        for call in calls:
            call()


@pytest.fixture
async def blog(backend, tmp_path):
    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url, statement_timeout=0)
        try:
            await upgrade(engine)
            await seed_database(engine, n_users=3, n_posts=40, n_comments=80, n_favorites=3, quiet=True)
            yield engine
        finally:
            await engine.dispose()


async def test_a_posts_column_via_pt_osc_is_added_on_every_backend(blog, backend, capsys):
    async with blog.connect() as conn:
        await conn.run_sync(_migrate, lambda: online.add_column(
            "posts", sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False), via="pt-osc"))
        await conn.commit()
        assert "pinned" in await conn.run_sync(_columns, "posts")
        assert await conn.scalar(text("SELECT count(*) FROM posts WHERE pinned = :no").bindparams(no=False)) == 40
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert not {"_posts_new", "_posts_old"} & tables
    output = capsys.readouterr().out
    if backend in MYSQL_BACKENDS:
        assert "Successfully altered" in output and "Rebuilding foreign key constraints" in output
        async with blog.connect() as conn:  # comments, post_tags, favorites point at the new posts
            children = set((await conn.execute(text(
                "SELECT TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME = 'posts'"))).scalars())
            assert {"comments", "post_tags", "favorites"} <= children
            user_id = await conn.scalar(text("SELECT min(id) FROM users"))
            with pytest.raises(IntegrityError):  # still enforced against the new table
                await conn.execute(text("INSERT INTO comments (body, created_at, updated_at, post_id, author_id) "
                                        "VALUES ('x', NOW(), NOW(), 999999, :u)"), {"u": user_id})
    else:
        assert "[pt-osc]" not in output  # the backend's own path


async def test_a_failed_pt_osc_run_leaves_posts_as_it_was(blog, backend):
    if backend not in MYSQL_BACKENDS:
        pytest.skip("pt-online-schema-change is for MariaDB/MySQL")
    async with blog.connect() as conn:
        before = await conn.run_sync(_columns, "posts")
        with pytest.raises(pt_osc.PtOscError, match="Duplicate column name 'view_count'"):
            await conn.run_sync(_migrate, lambda: online.add_column(
                "posts", sa.Column("view_count", sa.Integer(), nullable=True), via="pt-osc"))
        await conn.rollback()
        assert await conn.run_sync(_columns, "posts") == before
        leftovers = (await conn.execute(text(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME LIKE '\\_posts%' UNION ALL SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE()"))).scalars().all()
        assert leftovers == []


def test_the_command_keeps_the_password_off_the_command_line_and_rebuilds_foreign_keys():
    url = make_url("mysql+asyncmy://blog:s3cret@db.internal:3307/quartblog?charset=utf8mb4")
    argv = pt_osc.command(url, "posts", "ADD COLUMN pinned BOOL NULL", defaults_file="/tmp/x/client.cnf")
    assert "s3cret" not in " ".join(argv)
    assert argv[1] == "--defaults-file=/tmp/x/client.cnf"
    assert argv[-1] == "h=db.internal,P=3307,u=blog,D=quartblog,t=posts"
    options = dict(zip(argv, argv[1:]))
    assert options["--alter"] == "ADD COLUMN pinned BOOL NULL"
    assert options["--alter-foreign-keys-method"] == "rebuild_constraints"
    assert "--execute" in argv and "--no-check-foreign-keys" in argv and "--no-drop-old-table" not in argv
    assert options["--max-load"] == "Threads_running=25" and options["--critical-load"] == "Threads_running=100"


@pytest.mark.parametrize("dialect", ["mysql", "postgresql"])
def test_offline_the_command_to_run_is_printed(dialect):
    buffer = io.StringIO()
    context = MigrationContext.configure(dialect_name=dialect, opts={"as_sql": True, "output_buffer": buffer})
    with Operations.context(context):
        online.add_column("posts", sa.Column("pinned", sa.Boolean(), nullable=True), via="pt-osc")
    sql = buffer.getvalue()
    if dialect == "mysql":
        assert "-- run: pt-online-schema-change --alter 'ADD COLUMN pinned BOOL' --execute" in sql
        assert "ALTER TABLE" not in sql
    else:
        assert "ALTER TABLE posts ADD COLUMN pinned BOOLEAN" in sql


def test_only_pt_osc_is_known():
    with pytest.raises(ValueError, match="the only tool is 'pt-osc'"):
        online.AddColumnOnlineOp("posts", sa.Column("x", sa.Integer()), via="gh-ost")


async def test_a_deadlock_under_a_savepoint_is_retried_not_a_500(backend, tmp_path):
    """A deadlock inside ``begin_nested()`` rolls the transaction back on MySQL, and the
    error the unit of work sees is the failed ROLLBACK TO SAVEPOINT (1305), with a SQLSTATE
    (42000) on asyncmy: seen as 500s on POST /api/articles under pt-osc's triggers."""
    if backend not in MYSQL_BACKENDS:
        pytest.skip("MySQL/MariaDB error 1305")
    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                with pytest.raises(DBAPIError) as raised:
                    await conn.execute(text("ROLLBACK TO SAVEPOINT sa_savepoint_1"))
        finally:
            await engine.dispose()
    assert raised.value.orig.args[0] == 1305
    assert is_retryable(raised.value)


@pytest.mark.parametrize("app_config", [{"VIEW_COUNT_FLUSH_SECONDS": 3600}])
async def test_a_deadlocked_visit_flush_keeps_the_visits_without_a_traceback(app, monkeypatch, caplog):
    """The visit counter's UPDATE deadlocked with pt-osc's copy in a bench run (20,000 posts)
    and logged a traceback; the visits are kept for the next flush, and a deadlock is a
    warning, not an error with a traceback."""
    import logging

    from sqlalchemy.exc import OperationalError
    from sqlalchemy.ext.asyncio import AsyncSession

    from quartblog.web.visits import get_visit_counter

    async def deadlock(self, statement, *args, **kwargs):
        raise OperationalError(str(statement), {}, Exception(1213, "Deadlock found when trying to get lock"))

    counter = get_visit_counter(app)
    counter.add("some-post")
    monkeypatch.setattr(AsyncSession, "execute", deadlock)
    with caplog.at_level(logging.INFO, logger="quartblog"):
        assert await counter.flush() == 0
    assert counter.pending == {"some-post": 1}
    records = [r for r in caplog.records if "post visits" in r.getMessage()]
    assert [r.levelname for r in records] == ["WARNING"] and records[0].exc_info is None
