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
posts, 100,000 comments).  See docs/migrations-live.md.
"""

from __future__ import annotations

import pytest

from quartblog.db import create_engine
from quartblog.migrations import upgrade
from quartblog.seed import seed_database

from .conftest import fresh_database
from .live_migration.scenario import deploy_under_load


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
