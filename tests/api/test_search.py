"""Search in the API: ``GET /api/articles?q=``, quartblog's documented extension of the
RealWorld contract (the site's /search, the same service).  Chinese is found inside a
sentence, Latin words by their start; ``q`` combines with the contract's filters and
paging; a request without ``q`` is answered exactly as the contract says."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from .conftest import TIMESTAMP, errors_of, register, write_article


@pytest.fixture
async def writers(client):
    """alice and bob, with posts in English, Chinese and both; a draft that no search finds."""
    alice, bob = await register(client, "alice"), await register(client, "bob")
    await write_article(client, alice, "Tuning MariaDB", body="Buffer pools and the database server.",
                        tags=["databases"])
    await write_article(client, alice, "我喜欢数据库", body="数据库是MariaDB。索引很重要 (a database index)。", tags=["中文", "databases"])
    await write_article(client, bob, "PostgreSQL notes", body="Another database, another day.",
                        tags=["databases"])
    await write_article(client, bob, "Gardening", body="Tomatoes and 西红柿 in July.", tags=["garden"])
    response = await client.post("/api/articles", headers=alice.headers, json={"article": {
        "title": "MariaDB secrets", "description": "d", "body": "Not out yet: database.", "status": "draft"}})
    assert response.status_code == 201
    response = await client.post("/api/articles", headers=bob.headers, json={"article": {
        "title": "Database tomorrow", "description": "d", "body": "Scheduled.", "status": "scheduled",
        "publishAt": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()}})
    assert response.status_code == 201
    return {"alice": alice, "bob": bob}


async def _titles(client, headers=None, **params) -> tuple[list[str], int]:
    response = await client.get("/api/articles?" + urlencode(params), headers=headers or {})
    assert response.status_code == 200, await response.get_data(as_text=True)
    data = await response.get_json()
    return [article["title"] for article in data["articles"]], data["articlesCount"]


@pytest.mark.parametrize("q, titles", [
    ("mariadb", ["我喜欢数据库", "Tuning MariaDB"]),          # any case; found inside 数据库是MariaDB。
    ("DATAB", ["PostgreSQL notes", "我喜欢数据库", "Tuning MariaDB"]),  # the start of a word
    ("数据库", ["我喜欢数据库"]),                               # inside a Chinese sentence
    ("索引", ["我喜欢数据库"]),
    ("西红柿 tomatoes", ["Gardening"]),                       # Chinese and English together: both needed
    ("数据库 postgresql", []),
    ("another   DAY", ["PostgreSQL notes"]),                  # every word, spaces folded
    ("ｍａｒｉａｄｂ", ["我喜欢数据库", "Tuning MariaDB"]),       # full-width letters are the same letters
])
async def test_q_finds_articles_with_every_word(client, writers, q, titles):
    found, count = await _titles(client, q=q)
    assert found == titles and count == len(titles)


async def test_q_combines_with_tag_author_and_favorited(client, writers):
    assert (await _titles(client, q="database", author="bob"))[0] == ["PostgreSQL notes"]
    assert (await _titles(client, q="mariadb", tag="中文"))[0] == ["我喜欢数据库"]
    assert (await _titles(client, q="mariadb", tag="garden"))[0] == []
    slug = (await (await client.get("/api/articles?author=bob&q=postgresql")).get_json())["articles"][0]["slug"]
    alice = writers["alice"]
    assert (await client.post(f"/api/articles/{slug}/favorite", headers=alice.headers)).status_code == 200
    assert (await _titles(client, q="database", favorited="alice"))[0] == ["PostgreSQL notes"]
    assert (await _titles(client, q="mariadb", favorited="alice"))[0] == []


async def test_drafts_and_scheduled_articles_are_never_found_even_by_their_author(client, writers):
    for who in ("alice", "bob"):
        found, _count = await _titles(client, writers[who].headers, q="database")
        assert "MariaDB secrets" not in found and "Database tomorrow" not in found


async def test_an_empty_q_is_no_search_and_punctuation_finds_nothing(client, writers):
    everything = await _titles(client)
    assert everything[1] == 4
    assert await _titles(client, q="") == everything
    assert await _titles(client, q="   ") == everything
    assert await _titles(client, q="!!! ... ，。") == ([], 0)  # nothing searchable: nothing found
    assert await _titles(client, q="%") == ([], 0)           # LIKE's wildcards are plain characters
    assert await _titles(client, q="_") == ([], 0)


async def test_q_pages_with_limit_and_offset(client, writers):
    assert await _titles(client, q="database", limit=2) == (["PostgreSQL notes", "我喜欢数据库"], 3)
    assert await _titles(client, q="database", limit=2, offset=2) == (["Tuning MariaDB"], 3)
    assert await _titles(client, q="database", offset=10) == ([], 3)


async def test_a_search_answers_the_contracts_list_shape(client, writers):
    data = await (await client.get("/api/articles?q=gardening")).get_json()
    assert set(data) == {"articles", "articlesCount"}
    article = data["articles"][0]
    assert set(article) == {"slug", "title", "description", "tagList", "createdAt", "updatedAt",
                            "favorited", "favoritesCount", "author"}
    assert TIMESTAMP.match(article["createdAt"])


async def test_a_too_long_q_is_a_422_at_q(client, writers):
    response = await client.get("/api/articles?" + urlencode({"q": "x" * 201}))
    assert response.status_code == 422
    assert "q" in await errors_of(response)
    assert (await client.get("/api/articles?" + urlencode({"q": "x" * 200}))).status_code == 200


async def test_q_is_in_the_openapi_document(client):
    document = await (await client.get("/api/openapi.json")).get_json()
    parameters = {p["name"]: p for p in document["paths"]["/api/articles"]["get"]["parameters"]}
    assert "q" in parameters and not parameters["q"].get("required")
    assert "extension" in str(parameters["q"]).lower()
