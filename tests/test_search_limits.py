"""Search as denial of service (issue 22): a search gets its own concurrency limit per
worker and a statement time limit lower than the pages'; past them it answers 503 with
Retry-After, on the site and the API, while the other pages are served.

The search slot is held by the test through the app's own object (no sleeps); a
search statement out of time is made certain by locking the posts table from another
connection (MariaDB ``LOCK TABLES ... WRITE``, PostgreSQL ``LOCK TABLE ... ACCESS
EXCLUSIVE``), so the search waits until its own limit stops it; SQLite readers are
never blocked, so there its progress handler looks at the clock at every step of a
limit already past.  The real-server figures (32 clients) are bench/search_crowd.py's.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text

from quartblog.db import create_engine, get_db
from quartblog.db import limits

from .api.conftest import register, write_article

SEARCHES = ("/search?q=database", "/api/articles?q=database")


@pytest.fixture
def app_config() -> dict:
    # One search at a time, no waiting for a slot: the test decides who has it.
    return {"SEARCH_CONCURRENCY": 1, "SEARCH_WAIT_SECONDS": 0, "SEARCH_STATEMENT_TIMEOUT": 0.2}


@pytest.fixture
async def posts(client):
    alice = await register(client, "alice")
    return [await write_article(client, alice, f"Database {n}", body="A database post.") for n in range(3)]


def assert_refused(response, body: str) -> None:
    assert response.status_code == 503, body
    assert int(response.headers["Retry-After"]) > 0


async def test_a_search_without_a_free_slot_is_503_with_retry_after_and_other_pages_are_served(app, client, posts):
    async with get_db(app).search.slot():  # another search is running on this worker
        for path in SEARCHES:
            response = await client.get(path)
            body = await response.get_data(as_text=True)
            assert_refused(response, body)
            assert "Too many searches" in body
        for path in ("/", "/api/articles", f"/api/articles/{posts[0]['slug']}", f"/posts/{posts[0]['slug']}",
                     "/search", "/api/articles?q="):  # an empty query is no search
            assert (await client.get(path)).status_code == 200, path
    for path in SEARCHES:  # the slot is free again
        response = await client.get(path)
        assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await (await client.get(SEARCHES[1])).get_json())["articlesCount"] == 3


async def test_the_slot_is_given_back_after_a_search_that_failed(app, client, posts):
    async with _posts_locked(app, backend_of(app)):
        assert (await client.get(SEARCHES[0])).status_code == 503
    assert not get_db(app).search.slots.locked()
    assert (await client.get(SEARCHES[0])).status_code == 200


def backend_of(app) -> str:
    return get_db(app).engine.dialect.name


@asynccontextmanager
async def _posts_locked(app, dialect: str):
    """The posts table held by another connection, so that a search cannot finish
    before its own time limit (SQLite: a progress handler that stops at once)."""
    if dialect == "sqlite":
        saved = limits.SQLITE_PROGRESS_STEPS
        search = get_db(app).search
        limits.SQLITE_PROGRESS_STEPS, saved_timeout = 1, search.timeout
        search.timeout = 1e-6
        try:
            yield
        finally:
            limits.SQLITE_PROGRESS_STEPS, search.timeout = saved, saved_timeout
        return
    engine = create_engine(get_db(app).url, statement_timeout=0)
    try:
        async with engine.connect() as conn:
            if dialect == "postgresql":
                await conn.execute(text("LOCK TABLE posts IN ACCESS EXCLUSIVE MODE"))
            else:
                await conn.execute(text("LOCK TABLES posts WRITE"))
            try:
                yield
            finally:
                if dialect == "postgresql":
                    await conn.rollback()
                else:
                    await conn.execute(text("UNLOCK TABLES"))
    finally:
        await engine.dispose()


async def test_a_search_past_its_statement_timeout_is_503_with_retry_after(app, client, posts):
    async with _posts_locked(app, backend_of(app)):
        for path in SEARCHES:
            response = await client.get(path, headers={"Accept": "text/html"})
            assert_refused(response, await response.get_data(as_text=True))
    for path in SEARCHES:
        assert (await client.get(path)).status_code == 200


def test_mysql_selects_carry_the_search_limit_only_inside_the_block():
    class Dialect:
        is_mariadb = False

    class Conn:
        dialect = Dialect()

    select = "SELECT posts.id FROM posts WHERE posts.search_text LIKE %s"
    assert limits.limit_selects(Conn(), None, select, (), None, False) == (select, ())
    token = limits._select_limit.set(0.25)
    try:
        hinted, _ = limits.limit_selects(Conn(), None, select, (), None, False)
        assert hinted.startswith("SELECT /*+ MAX_EXECUTION_TIME(250) */ posts.id")
        Dialect.is_mariadb = True
        limited, _ = limits.limit_selects(Conn(), None, select, (), None, False)
        assert limited == "SET STATEMENT max_statement_time=0.250 FOR " + select
        update = "UPDATE posts SET view_count = view_count + 1"
        assert limits.limit_selects(Conn(), None, update, (), None, False) == (update, ())
    finally:
        limits._select_limit.reset(token)


def test_the_search_settings_default_below_the_pages_statement_timeout():
    from quartblog.config import Settings

    settings = Settings()
    assert 0 < settings.SEARCH_STATEMENT_TIMEOUT < settings.DB_STATEMENT_TIMEOUT
    assert settings.SEARCH_CONCURRENCY > 0 and settings.SEARCH_WAIT_SECONDS > 0


def test_a_search_never_gets_longer_than_the_pages_statement_timeout():
    from quartblog import create_app

    from .conftest import make_config

    app = create_app(make_config("sqlite+aiosqlite://", DB_STATEMENT_TIMEOUT=3, SEARCH_STATEMENT_TIMEOUT=10))
    assert get_db(app).search.timeout == 3
