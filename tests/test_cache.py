"""The cache: in-process (LRU with expiry) and Redis, with the same behaviour."""

from __future__ import annotations

import os
import uuid

import pytest

from quartblog.web.cache import MemoryCache, NullCache, RedisCache, create_cache

REDIS_URL = os.environ.get("QUARTBLOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def cache(request):
    if request.param == "memory":
        yield MemoryCache(default_ttl=30)
        return
    cache = RedisCache(REDIS_URL, default_ttl=30, prefix=f"qbtest:{uuid.uuid4().hex}:")
    try:
        await cache._redis.ping()
    except Exception as exc:
        await cache.close()
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is not reachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    try:
        yield cache
    finally:
        keys = [k async for k in cache._redis.scan_iter(match=cache.prefix + "*")]
        if keys:
            await cache._redis.delete(*keys)
        await cache.close()


async def test_values_round_trip_and_a_miss_is_none(cache):
    value = {"body": "<p>Title 😀</p>", "type": "text/html; charset=utf-8", "n": [1, 2]}
    await cache.set("page", value)
    assert await cache.get("page") == value
    assert await cache.get("other") is None


async def test_bumping_a_namespace_hides_its_old_keys(cache):
    old_key = await cache.namespaced("posts", "count:all")
    await cache.set(old_key, 41)
    await cache.bump("posts")
    new_key = await cache.namespaced("posts", "count:all")
    assert new_key != old_key
    assert await cache.get(new_key) is None


async def test_memory_entries_expire_after_their_ttl():
    clock = Clock()
    cache = MemoryCache(default_ttl=30, clock=clock)
    await cache.set("a", 1)
    await cache.set("b", 2, ttl=100)
    clock.now += 31
    assert await cache.get("a") is None
    assert await cache.get("b") == 2


async def test_memory_cache_is_bounded_and_evicts_the_least_recently_used():
    cache = MemoryCache(default_ttl=30, max_entries=2)
    await cache.set("a", 1)
    await cache.set("b", 2)
    await cache.get("a")
    await cache.set("c", 3)
    assert await cache.get("b") is None
    assert (await cache.get("a"), await cache.get("c")) == (1, 3)


async def test_caching_can_be_turned_off():
    cache = create_cache({"CACHE_ENABLED": False, "CACHE_TTL_SECONDS": 30})
    assert isinstance(cache, NullCache)
    await cache.set("a", 1)
    assert await cache.get("a") is None


def test_a_redis_url_selects_the_shared_cache():
    cache = create_cache({"CACHE_ENABLED": True, "CACHE_TTL_SECONDS": 5, "REDIS_URL": REDIS_URL})
    assert isinstance(cache, RedisCache) and cache.default_ttl == 5
