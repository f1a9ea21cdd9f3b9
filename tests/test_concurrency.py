"""Writing at the same moment, against a real server: ``hypercorn`` with 2 workers.

A double click, two tabs, a popular post: each scenario sends its requests at once
(``asyncio.gather`` over real connections) and then checks that no answer was a
5xx, that no slug is taken twice, and that every count the API shows equals a
``COUNT(*)`` in the database.  Runs on every backend of the suite.

The server listens on a socket this test binds before starting it (``fd://``),
so the first requests simply wait in the listen queue until a worker is up: no
polling, no sleeps.  Each scenario is bounded in requests; httpx's timeout bounds
its time.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from quartblog.db import create_engine
from quartblog.migrations import upgrade
from quartblog.services import counts
from quartblog.models import Comment, Post, Role, Tag, User, favorites, follows, post_tags

from .conftest import TEST_SECRET, fresh_database

PASSWORD = "correct horse battery"
WORKERS = 2


class LiveServer:
    def __init__(self, url: str, database_url: str, engine) -> None:
        self.url = url
        self.database_url = database_url
        self.engine = engine
        self.statuses: Counter[int] = Counter()

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Token {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60.0)

    async def scalar(self, statement):
        async with self.engine.connect() as conn:
            return await conn.scalar(statement)


@pytest.fixture(scope="module")
async def live(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """hypercorn quartblog:app, 2 workers, on a fresh database of this backend."""
    tmp = tmp_path_factory.mktemp(f"live-{backend}")
    async with fresh_database(backend, tmp) as url:
        engine = create_engine(url)
        await upgrade(engine)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(512)
        port = listener.getsockname()[1]
        env = {
            **os.environ,
            "QUARTBLOG_DATABASE_URL": url,
            "QUARTBLOG_SECRET_KEY": TEST_SECRET,
            "QUARTBLOG_AUTH_RATE_LIMIT_PER_MINUTE": "0",
            "QUARTBLOG_CACHE_ENABLED": "1",
        }
        log = open(tmp / "hypercorn.log", "wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "hypercorn", "quartblog:app", "--workers", str(WORKERS),
             "--bind", f"fd://{listener.fileno()}"],
            pass_fds=[listener.fileno()], env=env, stdout=log, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
        try:
            yield LiveServer(f"http://127.0.0.1:{port}", url, engine)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            listener.close()
            log.close()
            await engine.dispose()
        server_log = (tmp / "hypercorn.log").read_text(errors="replace")
        assert "Traceback" not in server_log, server_log[-5000:]


async def at_once(*requests):
    """Send these requests at the same moment; their responses, in order."""
    return await asyncio.gather(*requests)


def no_server_errors(responses) -> Counter[int]:
    statuses = Counter(r.status_code for r in responses)
    assert not [s for s in statuses if s >= 500], (statuses, [r.text[:300] for r in responses if r.status_code >= 500])
    return statuses


async def register(live: LiveServer, names: list[str]) -> dict[str, str]:
    """Register these users (at once, too); their tokens by name."""
    async with live.client() as client:
        responses = await at_once(*(client.post("/api/users", json={"user": {
            "username": name, "email": f"{name}@example.com", "password": PASSWORD}}) for name in names))
    no_server_errors(responses)
    assert [r.status_code for r in responses] == [201] * len(names), [r.text for r in responses]
    return {name: r.json()["user"]["token"] for name, r in zip(names, responses)}


async def write(live: LiveServer, token: str, title: str, tags: list[str] | None = None) -> dict:
    async with live.client(token) as client:
        response = await client.post("/api/articles", json={"article": {
            "title": title, "description": "d", "body": "b", "tagList": tags or []}})
    assert response.status_code == 201, response.text
    return response.json()["article"]


async def test_the_same_title_from_ten_users_at_once(live):
    tokens = await register(live, [f"t{i}" for i in range(10)])
    clients = [live.client(token) for token in tokens.values()]
    try:
        responses = await at_once(*(c.post("/api/articles", json={"article": {
            "title": "Breaking news", "description": "d", "body": "b"}}) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert no_server_errors(responses) == {201: 10}
    slugs = [r.json()["article"]["slug"] for r in responses]
    assert len(set(slugs)) == 10 and all(s.startswith("breaking-news") for s in slugs)
    assert await live.scalar(select(func.count()).select_from(Post).where(Post.slug.like("breaking-news%"))) == 10


@pytest.mark.parametrize("writers", [50, 100])
async def test_the_same_title_from_a_crowd_at_once(live, writers):
    """Issue 22: 50 and 100 writers, each with their own account, post one title at the
    same moment.  Every one gets the post with a slug of its own: the slug does not
    depend on winning a race, so nobody is refused (a refusal would be 503 with
    Retry-After, never another 5xx)."""
    title = f"Crowd news {writers}"
    names = [f"crowd{writers}-{i}" for i in range(writers)]
    tokens = {}
    for start in range(0, writers, 10):  # the accounts ten at a time: the crowd is the posts'
        tokens |= await register(live, names[start:start + 10])
    clients = [live.client(token) for token in tokens.values()]
    try:
        responses = await at_once(*(c.post("/api/articles", json={"article": {
            "title": title, "description": "d", "body": "b"}}) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    statuses = Counter(r.status_code for r in responses)
    refused = [r for r in responses if r.status_code >= 500]
    assert all(r.status_code == 503 and r.headers.get("Retry-After") for r in refused), \
        (statuses, [r.text[:300] for r in refused])
    assert statuses == {201: writers}, statuses
    slugs = [r.json()["article"]["slug"] for r in responses]
    base = f"crowd-news-{writers}"
    assert len(set(slugs)) == writers and all(s == base or s.startswith(base + "-") for s in slugs)
    assert await live.scalar(select(func.count()).select_from(Post).where(Post.slug.like(base + "%"))) == writers


async def test_one_users_ten_comments_at_once(live):
    tokens = await register(live, ["chatty"])
    article = await write(live, tokens["chatty"], "Comment magnet")
    async with live.client(tokens["chatty"]) as client:
        responses = await at_once(*(client.post(f"/api/articles/{article['slug']}/comments", json={
            "comment": {"body": f"comment {i}"}}) for i in range(10)))
        assert no_server_errors(responses) == {200: 10}
        listed = (await client.get(f"/api/articles/{article['slug']}/comments")).json()["comments"]
    stored = await live.scalar(select(func.count()).select_from(Comment).join(Post).where(Post.slug == article["slug"]))
    assert len(listed) == stored == 10


async def test_a_double_favorite_and_a_double_follow(live):
    tokens = await register(live, ["clicker", "star"])
    article = await write(live, tokens["star"], "Double click me")
    async with live.client(tokens["clicker"]) as client:
        for _ in range(5):
            favorited = await at_once(*(client.post(f"/api/articles/{article['slug']}/favorite") for _ in range(2)))
            followed = await at_once(*(client.post("/api/profiles/star/follow") for _ in range(2)))
            assert no_server_errors([*favorited, *followed]) == {200: 4}
            assert all(r.json()["article"]["favoritesCount"] == 1 for r in favorited)
            assert all(r.json()["profile"]["following"] for r in followed)
    post_id = select(Post.id).where(Post.slug == article["slug"]).scalar_subquery()
    assert await live.scalar(select(func.count()).select_from(favorites).where(favorites.c.post_id == post_id)) == 1
    assert await live.scalar(select(func.count()).select_from(follows)
                             .join(User, User.id == follows.c.followed_id).where(User.username == "star")) == 1


async def test_ten_writers_with_one_new_tag(live):
    tokens = await register(live, [f"tagger{i}" for i in range(10)])
    clients = [live.client(token) for token in tokens.values()]
    try:
        responses = await at_once(*(c.post("/api/articles", json={"article": {
            "title": f"Tagged {i}", "description": "d", "body": "b", "tagList": ["brand-new", f"own-{i}"]}})
            for i, c in enumerate(clients)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert no_server_errors(responses) == {201: 10}
    assert all("brand-new" in r.json()["article"]["tagList"] for r in responses)
    assert await live.scalar(select(func.count()).select_from(Tag).where(Tag.name == "brand-new")) == 1
    uses = select(func.count()).select_from(post_tags).join(Tag).where(Tag.name == "brand-new")
    assert await live.scalar(uses) == 10
    async with live.client() as client:
        listed = (await client.get("/api/articles", params={"tag": "brand-new", "limit": 20})).json()
    assert listed["articlesCount"] == 10


async def test_a_favorite_and_follow_storm_leaves_exact_counts(live):
    names = [f"fan{i}" for i in range(6)]
    tokens = await register(live, [*names, "idol"])
    articles = [await write(live, tokens["idol"], f"Storm {i}") for i in range(2)]
    clients = {name: live.client(tokens[name]) for name in names}
    try:
        requests = []
        for round_ in range(4):
            for i, (name, client) in enumerate(clients.items()):
                slug = articles[(i + round_) % 2]["slug"]
                verb = client.post if (i + round_) % 3 else client.delete
                requests.append(verb(f"/api/articles/{slug}/favorite"))
                requests.append((client.post if round_ % 2 == 0 else client.delete)("/api/profiles/idol/follow"))
        responses = await at_once(*requests)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()))
    assert no_server_errors(responses) == {200: len(responses)}
    async with live.client() as client:
        for article in articles:
            shown = (await client.get(f"/api/articles/{article['slug']}")).json()["article"]["favoritesCount"]
            post_id = select(Post.id).where(Post.slug == article["slug"]).scalar_subquery()
            stored = await live.scalar(select(func.count()).select_from(favorites).where(favorites.c.post_id == post_id))
            assert shown == stored
    followers = await live.scalar(select(func.count()).select_from(follows)
                                  .join(User, User.id == follows.c.followed_id).where(User.username == "idol"))
    assert 0 <= followers <= len(names)


async def test_writers_publishing_retagging_and_deleting_at_once_keep_post_counts_exact(live):
    """The counts kept on write (services/counts.py) under concurrent writers who share
    tags: after the storm they equal a recount, and the lists say so."""
    names = [f"scribe{i}" for i in range(8)]
    tokens = await register(live, names)
    articles = {name: [await write(live, tokens[name], f"{name} {k}", ["shared", f"ring{i % 3}"])
                       for k in range(2)] for i, name in enumerate(names)}
    clients = {name: live.client(tokens[name]) for name in names}
    try:
        requests = []
        for i, (name, client) in enumerate(clients.items()):
            first, second = (a["slug"] for a in articles[name])
            requests.append(client.put(f"/api/articles/{first}", json={"article": {
                "tagList": [f"ring{(i + 1) % 3}", "shared", "fresh"]}}))
            if i % 2:
                requests.append(client.delete(f"/api/articles/{second}"))
            else:
                requests.append(client.put(f"/api/articles/{second}", json={"article": {"status": "draft"}}))
            requests.append(client.post("/api/articles", json={"article": {
                "title": f"{name} late", "description": "d", "body": "b", "tagList": ["fresh", "shared"]}}))
        responses = await at_once(*requests)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()))
    assert set(no_server_errors(responses)) <= {200, 201, 204}
    async with live.engine.connect() as conn:
        assert await counts.drift(conn) == {}
    async with live.client() as client:
        everything = (await client.get("/api/articles", params={"limit": 1})).json()["articlesCount"]
        shared = (await client.get("/api/articles", params={"tag": "shared", "limit": 1})).json()["articlesCount"]
        fresh = (await client.get("/api/articles", params={"tag": "fresh", "limit": 1})).json()["articlesCount"]
    public = select(func.count()).select_from(Post).where(Post.status == "published")
    assert everything == await live.scalar(public)
    assert shared == await live.scalar(public.join(post_tags).join(Tag).where(Tag.name == "shared"))
    assert fresh == 16  # 8 retagged + 8 new


async def _site_session(live: LiveServer, email: str) -> tuple[httpx.AsyncClient, str]:
    """A browser signed in on the site, and its CSRF token."""
    import re

    client = live.client()
    token_of = re.compile(r'name="csrf_token" value="([^"]+)"')
    page = await client.get("/login")
    response = await client.post("/login", data={"email": email, "password": PASSWORD,
                                                 "csrf_token": token_of.search(page.text).group(1)})
    assert response.status_code == 303, response.text
    page = await client.get("/admin/users")
    assert page.status_code == 200, page.text
    return client, token_of.search(page.text).group(1)


async def test_two_admins_demoting_each_other_leave_an_admin(live):
    await register(live, ["boss1", "boss2"])
    admins = User.username.in_(["boss1", "boss2"])
    async with live.engine.begin() as conn:
        # The only admins of the blog.
        await conn.execute(update(User).where(User.role == Role.ADMIN).values(role=Role.AUTHOR))
        await conn.execute(update(User).where(admins).values(role=Role.ADMIN))
    (one, one_token), (two, two_token) = [await _site_session(live, f"{n}@example.com") for n in ("boss1", "boss2")]
    try:
        for _ in range(5):
            responses = await at_once(
                one.post("/admin/users/boss2/role", data={"role": "author", "csrf_token": one_token}),
                two.post("/admin/users/boss1/role", data={"role": "author", "csrf_token": two_token}),
            )
            no_server_errors(responses)
            remaining = await live.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN))
            assert remaining == 1
            async with live.engine.begin() as conn:
                await conn.execute(update(User).where(admins).values(role=Role.ADMIN))
    finally:
        await one.aclose()
        await two.aclose()
