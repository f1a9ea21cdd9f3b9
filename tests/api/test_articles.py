"""Articles: lists, the feed, reading, writing, favorites."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from quartblog.services import posts

from .conftest import TIMESTAMP, errors_of, register, write_article

SUMMARY_KEYS = {"slug", "title", "description", "tagList", "createdAt", "updatedAt",
                "favorited", "favoritesCount", "author"}


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


async def test_create_answers_201_with_the_article(client, alice):
    before = datetime.now(timezone.utc)
    response = await client.post("/api/articles", headers=alice.headers, json={"article": {
        "title": "How to train your dragon", "description": "Ever wonder how?",
        "body": "You have to believe", "tagList": ["reactjs", "AngularJS", "dragons", "reactjs"]}})
    after = datetime.now(timezone.utc)
    assert response.status_code == 201
    article = (await response.get_json())["article"]
    assert article["slug"] == "how-to-train-your-dragon"
    assert (article["title"], article["description"], article["body"]) == (
        "How to train your dragon", "Ever wonder how?", "You have to believe")
    assert article["tagList"] == ["angularjs", "dragons", "reactjs"]  # by name, duplicates dropped
    assert (article["favorited"], article["favoritesCount"]) == (False, 0)
    assert article["author"] == {"username": "alice", "bio": "", "image": None, "following": False}
    assert TIMESTAMP.match(article["createdAt"]) and TIMESTAMP.match(article["updatedAt"])
    # fractions of a second survive the database (MariaDB too): not truncated to the second
    assert before - timedelta(milliseconds=1) <= _parse(article["createdAt"]) <= after


async def test_an_article_is_a_post_on_the_site(client, db_session, alice):
    article = await write_article(client, alice, "Seen everywhere", tags=["both"])
    view = await posts.get_post_view(db_session, article["slug"])
    assert (view.post.title, view.author.username, view.tags) == ("Seen everywhere", "alice", ["both"])
    home = await client.get("/")
    assert "Seen everywhere" in await home.get_data(as_text=True)


async def test_get_an_article_by_slug(client, alice, bob):
    article = await write_article(client, alice, "Read me")
    anonymous = await client.get(f"/api/articles/{article['slug']}")
    assert anonymous.status_code == 200
    assert (await anonymous.get_json())["article"] == article

    await client.post(f"/api/articles/{article['slug']}/favorite", headers=bob.headers)
    await client.post("/api/profiles/alice/follow", headers=bob.headers)
    seen_by_bob = (await (await client.get(f"/api/articles/{article['slug']}", headers=bob.headers)).get_json())
    assert seen_by_bob["article"]["favorited"] is True
    assert seen_by_bob["article"]["author"]["following"] is True

    missing = await client.get("/api/articles/no-such-article")
    assert missing.status_code == 404
    assert await errors_of(missing) == {"body": ["Article not found"]}


async def test_list_is_newest_first_with_a_count_and_no_bodies(client, alice, bob):
    for n in range(3):
        await write_article(client, alice, f"Alice {n}", tags=["alice", f"n{n}"])
    await write_article(client, bob, "Bob 0", tags=["bob"])

    response = await client.get("/api/articles")
    assert response.status_code == 200
    listing = await response.get_json()
    assert listing["articlesCount"] == 4
    assert [a["title"] for a in listing["articles"]] == ["Bob 0", "Alice 2", "Alice 1", "Alice 0"]
    for article in listing["articles"]:
        assert set(article) == SUMMARY_KEYS
        assert article["tagList"] in (["alice", f"n{article['title'][-1]}"], ["bob"])  # as written
        assert TIMESTAMP.match(article["createdAt"])

    page = await (await client.get("/api/articles?limit=2&offset=1")).get_json()
    assert [a["title"] for a in page["articles"]] == ["Alice 2", "Alice 1"]
    assert page["articlesCount"] == 4
    beyond = await (await client.get("/api/articles?offset=10")).get_json()
    assert beyond == {"articles": [], "articlesCount": 4}


async def test_list_filters_by_tag_author_and_favorited(client, alice, bob):
    await write_article(client, alice, "Tagged", tags=["python"])
    liked = await write_article(client, alice, "Liked")
    await write_article(client, bob, "Bob's")
    await client.post(f"/api/articles/{liked['slug']}/favorite", headers=bob.headers)

    async def titles(query: str) -> tuple[list[str], int]:
        listing = await (await client.get(f"/api/articles?{query}")).get_json()
        return [a["title"] for a in listing["articles"]], listing["articlesCount"]

    assert await titles("tag=python") == (["Tagged"], 1)
    assert await titles("author=alice") == (["Liked", "Tagged"], 2)
    assert await titles("favorited=bob") == (["Liked"], 1)
    assert await titles("author=alice&tag=python") == (["Tagged"], 1)
    assert await titles("author=nobody") == ([], 0)
    assert await titles("tag=nothing") == ([], 0)

    as_bob = await (await client.get("/api/articles?favorited=bob", headers=bob.headers)).get_json()
    assert as_bob["articles"][0]["favorited"] is True
    assert as_bob["articles"][0]["favoritesCount"] == 1


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=-1", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"),
    ("limit=1.5", "limit"), ("offset=-1", "offset"), ("offset=" + "9" * 30, "offset"),
    ("limit=" + "9" * 30, "limit"), ("offset=x", "offset"), ("limit=1&limit=2", "limit"),
])
async def test_bad_limit_or_offset_is_422(client, alice, query, field):
    for path in ("/api/articles", "/api/articles/feed"):
        response = await client.get(f"{path}?{query}", headers=alice.headers)
        assert response.status_code == 422, path
        assert field in await errors_of(response)


async def test_the_feed_shows_articles_by_followed_authors(client, alice, bob):
    carol = await register(client, "carol")
    await write_article(client, bob, "By Bob")
    await write_article(client, carol, "By Carol")
    await write_article(client, alice, "By Alice")

    empty = await client.get("/api/articles/feed", headers=alice.headers)
    assert await empty.get_json() == {"articles": [], "articlesCount": 0}

    await client.post("/api/profiles/bob/follow", headers=alice.headers)
    await client.post("/api/profiles/carol/follow", headers=alice.headers)
    feed = await (await client.get("/api/articles/feed?limit=1", headers=alice.headers)).get_json()
    assert feed["articlesCount"] == 2
    assert [a["title"] for a in feed["articles"]] == ["By Carol"]
    assert feed["articles"][0]["author"]["following"] is True
    assert set(feed["articles"][0]) == SUMMARY_KEYS

    assert (await client.get("/api/articles/feed")).status_code == 401


@pytest.mark.parametrize("path", ["/api/articles", "/api/articles/feed"])
async def test_a_list_runs_the_same_few_statements_whatever_the_limit(client, alice, bob, count_statements, path):
    await client.post("/api/profiles/alice/follow", headers=bob.headers)
    for n in range(25):
        await write_article(client, alice, f"Post {n}", tags=[f"t{n}", "common"])
    for slug in ("post-1", "post-2"):
        await client.post(f"/api/articles/{slug}/favorite", headers=bob.headers)
        await client.post(f"/api/articles/{slug}/comments", headers=bob.headers, json={"comment": {"body": "!"}})

    counts = {}
    for limit in (1, 20):
        with count_statements() as counter:
            response = await client.get(f"{path}?limit={limit}", headers=bob.headers)
        assert len((await response.get_json())["articles"]) == limit
        counts[limit] = counter.count
    assert counts[1] == counts[20] <= 4


async def test_the_author_updates_an_article_and_its_slug_stays(client, alice):
    article = await write_article(client, alice, "First title", tags=["old"])
    response = await client.put(f"/api/articles/{article['slug']}", headers=alice.headers, json={
        "article": {"title": "Second title", "body": "New body", "tagList": ["new", "fresh"]}})
    assert response.status_code == 200
    updated = (await response.get_json())["article"]
    assert updated["slug"] == article["slug"]
    assert (updated["title"], updated["body"], updated["description"]) == ("Second title", "New body", "About it")
    assert updated["tagList"] == ["fresh", "new"]
    assert updated["createdAt"] == article["createdAt"]
    assert _parse(updated["updatedAt"]) >= _parse(article["updatedAt"])

    reread = await (await client.get(f"/api/articles/{article['slug']}")).get_json()
    assert reread["article"]["title"] == "Second title"


async def test_invalid_update_is_422_and_writes_nothing(client, alice):
    article = await write_article(client, alice, "Stable", tags=["keep"])
    response = await client.put(f"/api/articles/{article['slug']}", headers=alice.headers, json={
        "article": {"title": "", "body": "would change", "tagList": ["x" * 65]}})
    assert response.status_code == 422
    errors = await errors_of(response)
    assert errors["title"] == ["can't be blank"] and "tagList" in errors
    reread = (await (await client.get(f"/api/articles/{article['slug']}")).get_json())["article"]
    assert reread == article


async def test_changing_or_deleting_someone_elses_article_is_403(client, alice, bob):
    article = await write_article(client, alice, "Alice's own")
    url = f"/api/articles/{article['slug']}"
    update = await client.put(url, headers=bob.headers, json={"article": {"title": "Mine now"}})
    assert update.status_code == 403
    assert "body" in await errors_of(update)
    assert (await client.delete(url, headers=bob.headers)).status_code == 403
    assert (await (await client.get(url)).get_json())["article"]["title"] == "Alice's own"


async def test_unknown_slugs_are_404_for_every_operation(client, alice):
    for method, path in [("PUT", "/api/articles/nope"), ("DELETE", "/api/articles/nope"),
                         ("POST", "/api/articles/nope/favorite"), ("DELETE", "/api/articles/nope/favorite")]:
        response = await client.open(path, method=method, headers=alice.headers, json={"article": {"title": "x"}})
        assert response.status_code == 404, (method, path)


async def test_delete_answers_204_and_the_article_is_gone(client, alice, bob):
    article = await write_article(client, alice, "Short lived")
    await client.post(f"/api/articles/{article['slug']}/comments", headers=bob.headers,
                      json={"comment": {"body": "bye"}})
    response = await client.delete(f"/api/articles/{article['slug']}", headers=alice.headers)
    assert response.status_code == 204 and await response.get_data() == b""
    assert (await client.get(f"/api/articles/{article['slug']}")).status_code == 404
    assert (await (await client.get("/api/articles")).get_json())["articlesCount"] == 0


async def test_favorite_and_unfavorite(client, alice, bob):
    article = await write_article(client, alice, "Lovely")
    url = f"/api/articles/{article['slug']}/favorite"
    for _ in range(2):  # favoriting twice counts once
        response = await client.post(url, headers=bob.headers)
        assert response.status_code == 200
        favorited = (await response.get_json())["article"]
        assert (favorited["favorited"], favorited["favoritesCount"]) == (True, 1)
    response = await client.delete(url, headers=bob.headers)
    assert response.status_code == 200
    unfavorited = (await response.get_json())["article"]
    assert (unfavorited["favorited"], unfavorited["favoritesCount"]) == (False, 0)
    assert (await client.post(url)).status_code == 401


@pytest.mark.parametrize("article, field, message", [
    ({"description": "d", "body": "b"}, "title", "can't be blank"),
    ({"title": " ", "description": "d", "body": "b"}, "title", "can't be blank"),
    ({"title": "t", "body": "b"}, "description", "can't be blank"),
    ({"title": "t", "description": "d", "body": ""}, "body", "can't be blank"),
    ({"title": 7, "description": "d", "body": "b"}, "title", "must be a string"),
    ({"title": "t", "description": "d", "body": "b", "tagList": "a,b"}, "tagList", "must be a list"),
    ({"title": "t", "description": "d", "body": "b", "tagList": [1]}, "tagList", "must be a string"),
    ({"title": "t" * 201, "description": "d", "body": "b"}, "title", "is too long (maximum is 200 characters)"),
    ({"title": "t", "description": "d" * 501, "body": "b"}, "description",
     "is too long (maximum is 500 characters)"),
])
async def test_invalid_articles_are_422_and_nothing_is_written(client, alice, article, field, message):
    response = await client.post("/api/articles", headers=alice.headers, json={"article": article})
    assert response.status_code == 422
    assert message in (await errors_of(response))[field]
    assert (await (await client.get("/api/articles")).get_json())["articlesCount"] == 0
    assert (await (await client.get("/api/tags")).get_json())["tags"] == []


async def test_missing_wrapper_is_422_on_body(client, alice):
    response = await client.post("/api/articles", headers=alice.headers,
                                  json={"title": "t", "description": "d", "body": "b"})
    assert response.status_code == 422
    assert await errors_of(response) == {"body": ["must be a JSON object with an object 'article'"]}


async def test_titles_in_any_script_get_a_slug(client, alice):
    article = await write_article(client, alice, "你好 世界 🎉", body="正文 😀")
    assert article["slug"] and article["title"] == "你好 世界 🎉"
    reread = (await (await client.get(f"/api/articles/{article['slug']}")).get_json())["article"]
    assert reread["body"] == "正文 😀"
    second = await write_article(client, alice, "你好 世界 🎉")
    assert second["slug"] != article["slug"]
