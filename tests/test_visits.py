"""Post visits: buffered in memory and written in batches (quartblog/visits.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from quartblog.models import Post

from .api.conftest import register, write_article


@pytest.mark.parametrize("app_config", [{"CACHE_ENABLED": True, "VIEW_COUNT_FLUSH_SECONDS": 3600}])
async def test_buffered_visits_reach_the_database_when_flushed(app, client, db_session, count_statements):
    from quartblog.web.visits import get_visit_counter

    alice = await register(client, "alice")
    article = await write_article(client, alice, "Busy")
    with count_statements() as counter:
        for _ in range(3):
            assert (await client.get(f"/posts/{article['slug']}")).status_code == 200
        assert (await client.get("/posts/no-such-post")).status_code == 404
    # the first visit renders the page (post, comments), the 404 looks the slug up;
    # the other visits are served from memory and write nothing
    assert counter.count == 3
    assert await db_session.scalar(select(Post.view_count)) == 0
    await db_session.rollback()  # end this session's read snapshot
    assert await get_visit_counter(app).flush() == 3
    assert await db_session.scalar(select(Post.view_count)) == 3
