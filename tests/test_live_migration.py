"""A deployment under live traffic (issue 12, "Under load"): the old release serves
(hypercorn, 2 workers) under a bounded load of reads and writes; the EXPAND revision
runs (``alembic upgrade``: a new column, its batched backfill, an index built online);
the new release starts beside the old one on the same socket and takes over; the
CONTRACT revision drops the old release's column; then the same way back
(contract down, the old release takes back over, expand down).

What a user would notice is asserted: no failed request (no 5xx, no connection
error), no refused one, and every acknowledged comment, favorite and post is in the
database at the end; every comment's length is in the column the serving release
reads.  The latency of each step (p50/p99/max) is printed, not asserted.  A small
data set here; ``python -m bench.live_migration`` runs the reference size (20,000
posts, 100,000 comments).  See docs/migrations.md ("Deploying under load").
"""

from __future__ import annotations

import pytest

from quartblog.db import create_engine
from quartblog.migrations import upgrade
from quartblog.cli.seed import seed_database

from .conftest import fresh_database, make_config
from .live_migration.scenario import deploy_under_load


async def test_a_release_serves_on_a_schema_a_newer_release_moved_ahead(backend, tmp_path, caplog):
    """The old release keeps serving (and a restarted worker of it starts) after the
    new release's expand revision ran: a revision the code does not know is newer."""
    from sqlalchemy import text

    from quartblog import create_app

    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE alembic_version SET version_num = 'from_a_newer_release'"))
        finally:
            await engine.dispose()
        app = create_app(make_config(url))
        async with app.test_app():
            response = await app.test_client().get("/api/articles")
    assert response.status_code == 200
    assert "from_a_newer_release, which this release does not know" in caplog.text


@pytest.mark.timeout(900)
async def test_expand_takeover_contract_and_back_under_load(backend, tmp_path, capsys):
    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            await seed_database(engine, n_users=12, n_posts=300, n_comments=1500, n_follows=3, n_favorites=5,
                                quiet=True)
            outcome = await deploy_under_load(url, engine, tmp_path / "logs", clients=6, rate=30.0,
                                              step_requests=60)
        finally:
            await engine.dispose()
    with capsys.disabled():
        print("\n" + outcome.report(f"live migration on {backend}"))
    assert outcome.failures == [], outcome.failures[:5]
    assert outcome.client_errors == [], outcome.client_errors[:5]
    assert outcome.server_problems == []
    acked = outcome.acked
    assert acked.comments and acked.favorites and acked.posts
    assert outcome.found == {"comments": len(set(acked.comments)), "favorites": len(acked.favorites),
                             "posts": len(set(acked.posts))}
    assert outcome.column_checks == {"after contract: body_chars": 0, "after expand down: chars": 0}


@pytest.mark.timeout(300)
async def test_a_long_transaction_makes_the_ddl_wait_in_turns_not_the_site(backend, tmp_path):
    """A transaction that has read ``comments`` and stays open holds a lock the ALTER
    needs (MariaDB's metadata lock, PostgreSQL's ACCESS SHARE).  An ALTER waiting for it
    would queue every later query of the table behind itself; the expand revision waits
    at most ``LOCK_WAIT_SECONDS`` and tries again, so between its attempts the site's
    queries run, and once the long transaction ends the migration completes."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer and no lock queue for DDL to wait in")
    import os
    import sys

    from sqlalchemy import func, inspect, select

    from quartblog.models import Comment

    from .live_migration.revisions import ALEMBIC_INI, LEGACY
    from .live_migration.scenario import Process, alembic

    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        env = {**os.environ, "QUARTBLOG_DATABASE_URL": url}
        try:
            await upgrade(engine)
            await seed_database(engine, n_users=3, n_posts=20, n_comments=50, quiet=True)
            await alembic("upgrade", LEGACY, env, tmp_path)
            async with engine.connect() as long_transaction:
                await long_transaction.scalar(select(func.count()).select_from(Comment))  # and stays open
                migration = Process("alembic upgrade live_expand", tmp_path / "expand.log")
                await migration.start([sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), "upgrade",
                                       "live_expand"], env)
                await migration.wait_for(r"\(lock\), attempt 2")  # it gave up its first wait
                async with engine.connect() as site:  # a reader meanwhile is not stuck behind it
                    assert await site.scalar(select(func.count()).select_from(Comment)) == 50
                await long_transaction.rollback()
            assert await migration.wait() == 0, migration.tail()
            async with engine.connect() as conn:
                columns = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("comments")})
            assert "body_chars" in columns
        finally:
            await engine.dispose()
