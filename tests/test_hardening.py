"""Deployment settings found wanting by a hostile test (issue 8): SITE_URL in
production, rate limits shared through Redis, trusted reverse proxies."""

from __future__ import annotations

import uuid

import pytest
from quart import request, url_for

from quartblog import create_app
from quartblog.config import ConfigError

from .conftest import TEST_SECRET, make_config

REDIS_URL = "redis://127.0.0.1:6379/0"
WRONG = {"user": {"email": "nobody@example.com", "password": "not the password"}}


def test_production_refuses_to_start_without_a_site_url():
    with pytest.raises(ConfigError, match="QUARTBLOG_SITE_URL must be set"):
        create_app({"ENV": "production", "SECRET_KEY": TEST_SECRET})
    with pytest.raises(ConfigError, match="QUARTBLOG_SITE_URL="):
        create_app({"ENV": "production", "SECRET_KEY": TEST_SECRET, "SITE_URL": "blog.example.com"})
    app = create_app({"ENV": "production", "SECRET_KEY": TEST_SECRET, "SITE_URL": "https://blog.example.com/"})
    assert app.config["SITE_URL"] == "https://blog.example.com"


def test_development_may_go_without_a_site_url():
    assert create_app({"ENV": "development"}).config["SITE_URL"] is None


@pytest.fixture
async def redis_prefix():
    """A key prefix of this test's own in the real Redis; its keys are deleted afterwards."""
    redis = pytest.importorskip("redis.asyncio")
    prefix = f"quartblog-test-{uuid.uuid4().hex}:"
    yield prefix
    client = redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_two_workers_sharing_redis_share_the_log_in_limit(database_url, redis_prefix):
    """Two app instances (two workers, or two hosts) with one Redis: 3 attempts a minute
    in all, not 3 each."""
    config = make_config(database_url, REDIS_URL=REDIS_URL, CACHE_PREFIX=redis_prefix,
                         AUTH_RATE_LIMIT_PER_MINUTE=3)
    first, second = create_app(config), create_app(config)
    async with first.test_app(), second.test_app():
        clients = [first.test_client(), second.test_client()]
        statuses = [(await clients[i % 2].post("/api/users/login", json=WRONG)).status_code for i in range(4)]
        site = [(await clients[i % 2].post("/login", form={"email": "x@example.com"})).status_code
                for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert site[-1] == 429 and 429 not in site[:3]  # (400: no CSRF token; the attempt counts all the same)


async def test_without_proxy_hops_x_forwarded_for_is_ignored(database_url):
    app = create_app(make_config(database_url, AUTH_RATE_LIMIT_PER_MINUTE=2))
    async with app.test_app():
        client = app.test_client()
        statuses = [(await client.post("/api/users/login", json=WRONG,
                                       headers={"X-Forwarded-For": f"203.0.113.{i}"})).status_code
                    for i in range(3)]
    assert statuses == [401, 401, 429]  # made-up addresses do not escape the limit


async def test_with_proxy_hops_the_limit_counts_per_forwarded_client(database_url):
    app = create_app(make_config(database_url, AUTH_RATE_LIMIT_PER_MINUTE=2, PROXY_HOPS=1))
    async with app.test_app():
        client = app.test_client()

        async def attempt(address: str) -> int:
            response = await client.post("/api/users/login", json=WRONG, headers={"X-Forwarded-For": address})
            return response.status_code

        three_clients = [await attempt(f"203.0.113.{i}") for i in range(3)]
        # The proxy appends the address it saw: a client cannot choose it by sending its own.
        one_client = [await attempt(f"198.51.100.{i}, 203.0.113.0") for i in range(2)]
    assert three_clients == [401, 401, 401]
    assert one_client == [401, 429]


async def test_with_proxy_hops_the_app_sees_the_clients_scheme_and_host(database_url):
    app = create_app(make_config(database_url, PROXY_HOPS=1))
    seen = {}

    @app.get("/_whoami")
    async def whoami():
        seen.update(address=request.remote_addr, secure=request.is_secure, host=request.host,
                    url=url_for("site.index", _external=True))
        return "ok"

    async with app.test_app():
        await app.test_client().get("/_whoami", headers={
            "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "blog.example.com"})
    assert seen == {"address": "203.0.113.9", "secure": True, "host": "blog.example.com",
                    "url": "https://blog.example.com/"}
