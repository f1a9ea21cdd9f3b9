"""What the cache serves: anonymous pages from memory, never stale after a write,
never to a signed-in user or an API client with a token."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from quartblog.models import Post

from .api.conftest import register, write_article

pytestmark = pytest.mark.parametrize("app_config", [{"CACHE_ENABLED": True}])


async def test_an_anonymous_page_is_served_from_the_cache_without_sql(client, count_statements):
    alice = await register(client, "alice")
    await write_article(client, alice, "Cached words")
    first = await client.get("/")
    assert first.headers["X-Cache"] == "miss"
    with count_statements() as counter:
        second = await client.get("/")
    assert second.headers["X-Cache"] == "hit" and counter.count == 0
    assert await second.get_data() == await first.get_data()
    assert "Cached words" in await second.get_data(as_text=True)


async def test_a_write_makes_anonymous_readers_see_it_at_once(client):
    alice = await register(client, "alice")
    await write_article(client, alice, "First post")
    assert "First post" in await (await client.get("/")).get_data(as_text=True)
    listing = await (await client.get("/api/articles")).get_json()
    assert listing["articlesCount"] == 1
    await write_article(client, alice, "Second post")
    page = await client.get("/")
    assert page.headers["X-Cache"] == "miss"
    assert "Second post" in await page.get_data(as_text=True)
    assert (await (await client.get("/api/articles")).get_json())["articlesCount"] == 2
    assert (await (await client.get("/api/tags")).get_json()) == {"tags": []}


async def test_api_clients_with_a_token_always_read_from_the_database(client):
    alice = await register(client, "alice")
    article = await write_article(client, alice, "Mine")
    await client.get(f"/api/articles/{article['slug']}")  # cached for anonymous readers
    favorited = await client.post(f"/api/articles/{article['slug']}/favorite", headers=alice.headers)
    assert favorited.status_code == 200
    mine = await client.get(f"/api/articles/{article['slug']}", headers=alice.headers)
    assert "X-Cache" not in mine.headers
    assert (await mine.get_json())["article"]["favorited"] is True


async def test_signed_in_visitors_are_never_served_a_cached_page(client):
    await client.get("/")  # an anonymous copy is stored
    client.cookie_jar.clear()
    page = await client.get("/", headers={"Cookie": "session=anything"})
    assert "X-Cache" not in page.headers


async def test_every_visit_of_a_cached_post_page_is_counted(client, db_session, count_statements):
    alice = await register(client, "alice")
    article = await write_article(client, alice, "Popular")
    await client.get(f"/posts/{article['slug']}")
    with count_statements() as counter:
        again = await client.get(f"/posts/{article['slug']}")
    assert again.headers["X-Cache"] == "hit"
    assert counter.count == 1  # the visit counter's UPDATE, nothing else
    assert await db_session.scalar(select(Post.view_count)) == 2


async def test_responses_that_set_a_cookie_are_not_stored(app):
    from quart import Response

    from quartblog.response_cache import cache_for_anonymous

    @app.get("/_probe/cookie")
    @cache_for_anonymous
    async def sets_cookie():
        response = Response("personal")
        response.set_cookie("hello", "you")
        return response

    client = app.test_client()
    for _ in range(2):
        response = await client.get("/_probe/cookie")
        assert "X-Cache" not in response.headers
        client.cookie_jar.clear()

