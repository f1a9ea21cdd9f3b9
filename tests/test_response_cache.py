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


async def test_an_api_client_with_a_token_is_always_answered_afresh(client, count_statements):
    alice = await register(client, "alice")
    article = await write_article(client, alice, "Mine")
    url = f"/api/articles/{article['slug']}"
    await client.get(url)  # an anonymous copy is stored
    await client.post(f"{url}/favorite", headers=alice.headers)
    for _ in range(2):
        mine = await client.get(url, headers=alice.headers)
        assert "X-Cache" not in mine.headers
        assert (await mine.get_json())["article"]["favorited"] is True


async def test_another_worker_never_serves_a_writer_a_copy_from_before_their_write(app, client, database_url):
    """Two workers, each with its own in-process cache, on one database."""
    from quartblog import create_app

    from .conftest import make_config

    alice = await register(client, "alice")
    article = await write_article(client, alice, "Shared")
    url = f"/api/articles/{article['slug']}"
    other = create_app(make_config(database_url, CACHE_ENABLED=True))
    async with other.test_app():
        other_client = other.test_client()
        before = await other_client.get(url, headers=alice.headers)
        assert (await before.get_json())["article"]["favorited"] is False

        favorited = await client.post(f"{url}/favorite", headers=alice.headers)  # on the first worker
        assert favorited.status_code == 200

        after = await other_client.get(url, headers=alice.headers)
        assert (await after.get_json())["article"]["favorited"] is True
        assert (await after.get_json())["article"]["favoritesCount"] == 1


async def _cached_home(client) -> None:
    await client.get("/")
    assert (await client.get("/")).headers["X-Cache"] == "hit"


async def test_a_preview_a_log_in_and_a_refused_action_invalidate_nothing(app, client, db_session):
    from .factories import make_user
    from .site.conftest import Browser

    await make_user(db_session, "ada")
    browser = Browser(app.test_client())
    anonymous = app.test_client()
    await _cached_home(anonymous)
    await browser.log_in("ada")
    assert (await anonymous.get("/")).headers["X-Cache"] == "hit"
    page = await browser.post("/write", {"title": "Draft", "body": "Text", "tags": "", "description": "",
                                         "action": "preview"})
    assert page.status == 200
    assert (await anonymous.get("/")).headers["X-Cache"] == "hit"
    refused = await browser.post("/users/ada/follow")  # following oneself is refused
    assert refused.status == 303
    assert (await anonymous.get("/")).headers["X-Cache"] == "hit"
    written = await browser.post("/write", {"title": "Real", "body": "Text", "tags": "", "description": ""})
    assert written.status == 303
    home = await anonymous.get("/")
    assert home.headers["X-Cache"] == "miss" and "Real" in await home.get_data(as_text=True)


async def test_a_forged_host_header_never_reaches_another_readers_copy(client):
    alice = await register(client, "alice")
    await write_article(client, alice, "Linked")
    for path in ("/", "/feed.atom", "/api/articles"):
        forged = await client.get(path, headers={"Host": "evil.example"})
        assert forged.status_code == 200
        normal = await client.get(path)
        assert "evil.example" not in await normal.get_data(as_text=True), path


# the session cookie, or (after a browser restart) the remembered sign-in cookie alone
@pytest.mark.parametrize("cookie", ["session=anything", "quartblog_auth=anything"])
async def test_signed_in_visitors_are_never_served_a_cached_page(client, cookie):
    await client.get("/")  # an anonymous copy is stored
    client.cookie_jar.clear()
    page = await client.get("/", headers={"Cookie": cookie})
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

    from quartblog.web.response_cache import cache_response

    @app.get("/_probe/cookie")
    @cache_response
    async def sets_cookie():
        response = Response("personal")
        response.set_cookie("hello", "you")
        return response

    client = app.test_client()
    for _ in range(2):
        response = await client.get("/_probe/cookie")
        assert "X-Cache" not in response.headers
        client.cookie_jar.clear()

