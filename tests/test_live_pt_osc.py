"""The last mile of online schema changes under live traffic (issue 22; the scenario is
tests/live_migration/osc_scenario.py): two columns added to ``posts`` while the blog is
read and written, through pt-online-schema-change on MariaDB (both drivers), the backend's
online path on PostgreSQL and SQLite; then a batched backfill SIGKILLed inside a batch
under the same load, and run again.

Asserted: no failed request (no 5xx, no connection error) and no 4xx; every acknowledged
comment, favorite and post is in the database; on MariaDB, writes were acknowledged while
the copy was held (they reached the new table through the tool's triggers only) and the
copy went through the tool; the killed run left its uncommitted batch undone, the rerun
finished, and no post was written twice by the backfill.  Small data: 300 posts.
"""

from __future__ import annotations

import shutil
import signal

import pytest
from sqlalchemy import text

from quartblog.db import create_engine
from quartblog.migrations import upgrade
from quartblog.cli.seed import seed_database

from .conftest import fresh_database
from .live_migration.osc_scenario import deploy_pt_osc_under_load


@pytest.mark.timeout(600)
async def test_a_posts_column_through_pt_osc_and_a_killed_backfill_under_load(backend, tmp_path, capsys):
    mariadb = backend in ("asyncmy", "aiomysql")
    if mariadb and shutil.which("pt-online-schema-change") is None:
        pytest.fail("pt-online-schema-change is not installed (apt-get install percona-toolkit; scripts/test.sh does)")
    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            await seed_database(engine, n_users=12, n_posts=300, n_comments=600, n_follows=3, n_favorites=5,
                                quiet=True)
            outcome = await deploy_pt_osc_under_load(url, engine, backend, tmp_path / "logs")
            async with engine.connect() as conn:
                version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        finally:
            await engine.dispose()
    with capsys.disabled():
        print("\n" + outcome.report(f"posts column and killed backfill under load on {backend}"))
    assert outcome.failures == [], outcome.failures[:5]
    assert outcome.client_errors == [], outcome.client_errors[:5]
    assert outcome.server_problems == []
    acked = outcome.acked
    assert acked.comments and acked.favorites and acked.posts
    assert outcome.found == {"comments": len(set(acked.comments)), "favorites": len(acked.favorites),
                             "posts": len(set(acked.posts))}
    if mariadb:  # the copy went through the tool, and writes landed while it was held
        assert outcome.pt_osc, outcome.copy_log[-20:]
        assert any("Rebuilding foreign key constraints" in line for line in outcome.copy_log)
        assert sum(outcome.writes_during_copy.values()) >= 1, outcome.writes_during_copy
    assert outcome.killed_code == -signal.SIGKILL
    assert outcome.paused_line.startswith("PAUSED osc_backfill reading_minutes: 60/"), outcome.paused_line
    assert outcome.rerun_finished.endswith("(finished)"), outcome.rerun_finished
    assert version == "osc_backfill"
    assert outcome.posts["written twice"] == 0
    assert outcome.posts["left to do (existed before the rerun)"] == 0
    assert outcome.posts["written once"] >= 300
