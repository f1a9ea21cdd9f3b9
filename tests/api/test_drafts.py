"""Drafts and scheduled articles through the API: quartblog's documented extension of the
RealWorld contract (optional ``status``/``publishAt``, ``GET /api/user/drafts``), who sees
them (a matrix of roles), and RealWorld clients that know nothing of it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from quartblog.models import Post, Role

from ..factories import make_user
from .conftest import PASSWORD, TIMESTAMP, Client, errors_of, write_article

ROLES = ["anonymous", "reader", "author", "other", "admin"]
SEES_UNPUBLISHED = {"anonymous": False, "reader": False, "author": True, "other": False, "admin": True}


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _log_in(client, name: str) -> Client:
    response = await client.post("/api/users/login", json={"user": {"email": f"{name}@example.com",
                                                                    "password": PASSWORD}})
    assert response.status_code == 200
    return Client(username=name, email=f"{name}@example.com", token=(await response.get_json())["user"]["token"])


@pytest.fixture
async def people(client, db_session) -> dict[str, Client | None]:
    for name, role in (("rita", Role.READER), ("ada", Role.AUTHOR), ("otto", Role.AUTHOR), ("root", Role.ADMIN)):
        await make_user(db_session, name, role)
    return {"anonymous": None, "reader": await _log_in(client, "rita"), "author": await _log_in(client, "ada"),
            "other": await _log_in(client, "otto"), "admin": await _log_in(client, "root")}


async def _create(client, author: Client, title: str, **extension) -> dict:
    response = await client.post("/api/articles", headers=author.headers, json={"article": {
        "title": title, "description": "d", "body": "b", "tagList": ["hidden"], **extension}})
    assert response.status_code == 201, await response.get_data(as_text=True)
    return (await response.get_json())["article"]


async def _unpublished(client, people) -> dict[str, dict]:
    return {"draft": await _create(client, people["author"], "A draft", status="draft"),
            "scheduled": await _create(client, people["author"], "Coming soon", status="scheduled",
                                       publishAt=_iso(datetime.now(timezone.utc) + timedelta(days=1)))}


def _headers(person: Client | None) -> dict:
    return person.headers if person else {}


async def test_create_with_status_and_publish_at_answers_them_to_the_author(client, people):
    made = await _unpublished(client, people)
    assert made["draft"]["status"] == "draft" and "publishAt" not in made["draft"]  # none yet
    assert made["scheduled"]["status"] == "scheduled" and TIMESTAMP.match(made["scheduled"]["publishAt"])
    published = await _create(client, people["author"], "Now", status="published")
    assert published["status"] == "published" and TIMESTAMP.match(published["publishAt"])


async def test_a_realworld_client_sees_exactly_the_contract(client, people):
    article = await write_article(client, people["author"], "Plain")  # no status: published now
    assert "status" not in article and "publishAt" not in article
    listing = await (await client.get("/api/articles", headers=people["author"].headers)).get_json()
    assert listing["articlesCount"] == 1 and "status" not in listing["articles"][0]
    updated = await client.put(f"/api/articles/{article['slug']}", headers=people["author"].headers,
                               json={"article": {"title": "Plainer"}})
    assert set((await updated.get_json())["article"]) == set(article)


@pytest.mark.parametrize("who", ROLES)
async def test_who_reads_and_changes_drafts_and_scheduled_articles(who, client, people):
    made = await _unpublished(client, people)
    person = people[who]
    for kind, article in made.items():
        url = f"/api/articles/{article['slug']}"
        got = await client.get(url, headers=_headers(person))
        comments = await client.get(f"{url}/comments", headers=_headers(person))
        if SEES_UNPUBLISHED[who]:
            assert got.status_code == 200 == comments.status_code
            assert (await got.get_json())["article"]["status"] == kind
        else:  # as if it did not exist
            assert got.status_code == 404 == comments.status_code, kind
            assert await errors_of(got) == await errors_of(await client.get("/api/articles/nothing-here"))
        if person is None:
            continue
        changed = await client.put(url, headers=person.headers, json={"article": {"body": "changed"}})
        favorited = await client.post(f"{url}/favorite", headers=person.headers)
        commented = await client.post(f"{url}/comments", headers=person.headers,
                                      json={"comment": {"body": "hi"}})
        if who in ("author", "admin"):
            assert changed.status_code == 200 and (await changed.get_json())["article"]["body"] == "changed"
            assert favorited.status_code == 200 and commented.status_code == 200
        elif who == "reader":
            assert changed.status_code == favorited.status_code == commented.status_code == 404
        else:
            assert changed.status_code == favorited.status_code == commented.status_code == 404
        deleted = await client.delete(url, headers=person.headers)
        assert deleted.status_code == (204 if who in ("author", "admin") else 404)


@pytest.mark.parametrize("who", ROLES)
async def test_public_lists_never_show_them(who, client, people):
    await _unpublished(client, people)
    headers = _headers(people[who])
    for url in ("/api/articles", "/api/articles?author=ada", "/api/articles?tag=hidden"):
        listing = await (await client.get(url, headers=headers)).get_json()
        assert listing == {"articles": [], "articlesCount": 0}, url
    assert (await (await client.get("/api/tags", headers=headers)).get_json()) == {"tags": []}


async def test_the_drafts_list_is_the_authors_own(client, people):
    made = await _unpublished(client, people)
    await write_article(client, people["author"], "Published one")
    mine = await (await client.get("/api/user/drafts", headers=people["author"].headers)).get_json()
    assert mine["articlesCount"] == 2
    assert {(a["slug"], a["status"]) for a in mine["articles"]} == {
        (made["draft"]["slug"], "draft"), (made["scheduled"]["slug"], "scheduled")}
    for who in ("other", "admin"):
        theirs = await (await client.get("/api/user/drafts", headers=people[who].headers)).get_json()
        assert theirs == {"articles": [], "articlesCount": 0}
    assert (await client.get("/api/user/drafts")).status_code == 401


async def test_publish_schedule_and_back_to_draft_by_update(client, people):
    author = people["author"]
    draft = await _create(client, author, "Later", status="draft")
    url = f"/api/articles/{draft['slug']}"
    when = datetime.now(timezone.utc) + timedelta(hours=5)
    scheduled = await client.put(url, headers=author.headers,
                                 json={"article": {"status": "scheduled", "publishAt": _iso(when)}})
    assert (await scheduled.get_json())["article"]["status"] == "scheduled"
    assert (await scheduled.get_json())["article"]["publishAt"] == _iso(when)
    assert (await client.get(url)).status_code == 404
    now = await client.put(url, headers=author.headers, json={"article": {"status": "published"}})
    assert (await now.get_json())["article"]["status"] == "published"
    assert (await client.get(url)).status_code == 200
    back = await client.put(url, headers=author.headers, json={"article": {"status": "draft"}})
    assert (await back.get_json())["article"]["status"] == "draft"
    assert (await client.get(url)).status_code == 404


@pytest.mark.parametrize("extension, field, message", [
    ({"status": "secret"}, "status", None),
    ({"status": "scheduled"}, "publishAt", "is needed to schedule a post"),
    ({"status": "scheduled", "publishAt": "2001-01-01T00:00:00Z"}, "publishAt",
     "must be in the future to schedule a post"),
    ({"status": "draft", "publishAt": "2099-01-01T00:00:00Z"}, "publishAt", "can't be set on a draft"),
    ({"publishAt": "not a date"}, "publishAt", None),
    ({"publishAt": "0005-01-01T00:00:00Z"}, "publishAt", "is not a possible date"),
])
async def test_bad_status_or_publish_time_is_422_and_saves_nothing(client, people, extension, field, message):
    response = await client.post("/api/articles", headers=people["author"].headers, json={"article": {
        "title": "Bad", "description": "d", "body": "b", **extension}})
    assert response.status_code == 422
    errors = await errors_of(response)
    assert field in errors, errors
    if message:
        assert errors[field] == [message]
    listing = await (await client.get("/api/user/drafts", headers=people["author"].headers)).get_json()
    assert listing["articlesCount"] == 0
    assert (await (await client.get("/api/articles")).get_json())["articlesCount"] == 0


async def test_a_scheduled_article_appears_once_its_time_has_passed(client, people, db_session):
    made = await _unpublished(client, people)
    slug = made["scheduled"]["slug"]
    assert (await client.get(f"/api/articles/{slug}")).status_code == 404
    await db_session.execute(update(Post).where(Post.slug == slug)
                             .values(published_at=datetime.now(timezone.utc) - timedelta(milliseconds=10)))
    await db_session.commit()
    assert (await client.get(f"/api/articles/{slug}")).status_code == 200
    listing = await (await client.get("/api/articles")).get_json()
    assert [a["slug"] for a in listing["articles"]] == [slug]
    assert (await (await client.get("/api/tags")).get_json()) == {"tags": ["hidden"]}
    drafts = await (await client.get("/api/user/drafts", headers=people["author"].headers)).get_json()
    assert [a["slug"] for a in drafts["articles"]] == [made["draft"]["slug"]]


async def test_lists_order_by_publish_time(client, people, db_session):
    author = people["author"]
    first = await write_article(client, author, "Written first")
    second = await write_article(client, author, "Written second")
    # the first one is published later (say, it was a draft for a while)
    await db_session.execute(update(Post).where(Post.slug == first["slug"])
                             .values(published_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    await db_session.execute(update(Post).where(Post.slug == second["slug"])
                             .values(published_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    await db_session.commit()
    listing = await (await client.get("/api/articles")).get_json()
    assert [a["slug"] for a in listing["articles"]] == [first["slug"], second["slug"]]


async def test_the_extension_is_in_the_openapi_document(client):
    document = await (await client.get("/api/openapi.json")).get_json()
    assert "get" in document["paths"]["/api/user/drafts"]
    schemas = document["components"]["schemas"]
    for name in ("NewArticle", "UpdateArticle"):
        properties = schemas[name]["properties"]
        assert "status" in properties and "publishAt" in properties
        assert "status" not in schemas[name].get("required", [])
