"""What a RealWorld front end needs (issue 10): a stale token does not lock it out of
public pages, popular tags come first, tags keep their order, a missing image is null."""

from __future__ import annotations

import re

from datetime import datetime, timedelta, timezone

import jwt
import pytest
from sqlalchemy import delete

from quartblog.models import User
from tests.conftest import TEST_SECRET

from .conftest import register, write_article


def _token(**claims) -> str:
    now = datetime.now(timezone.utc)
    payload = {"sub": "1", "fp": "x", "iat": now, "exp": now + timedelta(hours=1), **claims}
    return jwt.encode(payload, TEST_SECRET, algorithm="HS256")


BAD_TOKENS = {
    "expired": lambda: "Token " + _token(exp=datetime.now(timezone.utc) - timedelta(seconds=1)),
    "another key": lambda: "Token " + jwt.encode({"sub": "1", "fp": "x", "exp": 9999999999},
                                                 "another secret that is long enough", algorithm="HS256"),
    "garbage": lambda: "Token not-a-jwt",
    "bad scheme": lambda: "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "empty": lambda: "Token ",
}


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_a_bad_token_reads_as_anonymous_where_a_token_is_optional(client, alice, kind):
    article = await write_article(client, alice, "Public", tags=["t"])
    headers = {"Authorization": BAD_TOKENS[kind]()}
    for path in ["/api/articles", f"/api/articles/{article['slug']}", "/api/profiles/alice",
                 f"/api/articles/{article['slug']}/comments", "/api/tags", "/api/articles?tag=t"]:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (kind, path)
    listing = await (await client.get("/api/articles", headers=headers)).get_json()
    assert listing["articlesCount"] == 1 and listing["articles"][0]["favorited"] is False
    # where a token is required, the same token is still a 401
    for method, path in [("GET", "/api/user"), ("GET", "/api/articles/feed"), ("POST", "/api/articles"),
                         ("POST", f"/api/articles/{article['slug']}/favorite")]:
        assert (await client.open(path, method=method, headers=headers, json={})).status_code == 401


async def test_the_token_of_a_deleted_user_reads_as_anonymous_where_optional(client, db_session, alice):
    ghost = await register(client, "ghost")
    await write_article(client, alice, "Still readable")
    await db_session.execute(delete(User).where(User.username == "ghost"))
    await db_session.commit()
    response = await client.get("/api/articles", headers=ghost.headers)
    assert response.status_code == 200
    assert (await response.get_json())["articlesCount"] == 1
    assert (await client.get("/api/user", headers=ghost.headers)).status_code == 401


async def test_a_good_token_is_still_read_where_optional(client, alice, bob):
    article = await write_article(client, bob, "Liked")
    await client.post(f"/api/articles/{article['slug']}/favorite", headers=alice.headers)
    mine = await (await client.get(f"/api/articles/{article['slug']}", headers=alice.headers)).get_json()
    assert mine["article"]["favorited"] is True


async def test_tags_are_listed_most_used_first_then_by_name(client, alice):
    await write_article(client, alice, "One", tags=["zebra", "apple"])
    await write_article(client, alice, "Two", tags=["zebra", "mango"])
    await write_article(client, alice, "Three", tags=["zebra", "mango", "kiwi"])
    tags = (await (await client.get("/api/tags")).get_json())["tags"]
    assert tags == ["zebra", "mango", "apple", "kiwi"]


async def test_an_articles_tags_are_alphabetical_in_the_api_and_as_written_on_the_site(client, alice, bob):
    """The contract's own suite wants ``tagList`` by name; the site keeps the author's order
    (the first tag is the post's primary tag, as in Ghost)."""
    await client.post("/api/profiles/alice/follow", headers=bob.headers)
    article = await write_article(client, alice, "Ordered", tags=["b", "a", "B", "c"])
    assert article["tagList"] == ["a", "b", "c"]  # duplicates dropped
    slug = article["slug"]
    single = await (await client.get(f"/api/articles/{slug}")).get_json()
    listing = await (await client.get("/api/articles")).get_json()
    by_tag = await (await client.get("/api/articles?tag=a")).get_json()
    feed = await (await client.get("/api/articles/feed", headers=bob.headers)).get_json()
    for tag_list in (single["article"]["tagList"], listing["articles"][0]["tagList"],
                     by_tag["articles"][0]["tagList"], feed["articles"][0]["tagList"]):
        assert tag_list == ["a", "b", "c"]
    page = await (await client.get(f"/posts/{slug}")).get_data(as_text=True)
    assert re.findall(r'<a class="tag" href="[^"]*">([^<]+)</a>', page)[:3] == ["b", "a", "c"]
    updated = await client.put(f"/api/articles/{slug}", headers=alice.headers,
                               json={"article": {"tagList": ["c", "new", "b"]}})
    assert (await updated.get_json())["article"]["tagList"] == ["b", "c", "new"]
    page = await (await client.get(f"/posts/{slug}")).get_data(as_text=True)
    assert re.findall(r'<a class="tag" href="[^"]*">([^<]+)</a>', page)[:3] == ["c", "new", "b"]


async def test_a_missing_image_is_null_everywhere(client, alice, bob):
    article = await write_article(client, alice, "Pictureless")
    await client.post(f"/api/articles/{article['slug']}/comments", headers=bob.headers,
                      json={"comment": {"body": "Hi"}})
    me = await (await client.get("/api/user", headers=alice.headers)).get_json()
    profile = await (await client.get("/api/profiles/alice")).get_json()
    listing = await (await client.get("/api/articles")).get_json()
    comments = await (await client.get(f"/api/articles/{article['slug']}/comments")).get_json()
    assert me["user"]["image"] is None and profile["profile"]["image"] is None
    assert listing["articles"][0]["author"]["image"] is None
    assert comments["comments"][0]["author"]["image"] is None
    changed = await client.put("/api/user", headers=alice.headers,
                               json={"user": {"image": "https://example.com/a.png"}})
    assert (await changed.get_json())["user"]["image"] == "https://example.com/a.png"
