"""An async cache for what many pages repeat: in-process by default, Redis when
``QUARTBLOG_REDIS_URL`` is set (shared by every worker and host).

Rules that keep it correct:

* Values are JSON-compatible (str, int, float, bool, None, lists, dicts) and are
  treated as immutable by callers; Redis stores them as JSON.
* Every entry has a time to live (``CACHE_TTL_SECONDS`` unless given): another
  worker with its own in-process cache sees a change within that time.
* Writes invalidate by namespace: a *namespace* whose generation is bumped makes
  every key under it unreachable at once.
* What is cached, and why nobody sees stale data after their own write, is the
  business of its user: ``quartblog.web.response_cache``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable

import orjson
from quart import Quart, current_app

EXTENSION_KEY = "quartblog.web.cache"


class BaseCache:
    def __init__(self, default_ttl: float) -> None:
        self.default_ttl = default_ttl

    async def get(self, key: str) -> Any:  # pragma: no cover - interface
        """The value, or None for a miss (so None itself is never cached)."""
        raise NotImplementedError

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:  # pragma: no cover
        raise NotImplementedError

    async def generation(self, namespace: str) -> int:  # pragma: no cover
        raise NotImplementedError

    async def bump(self, *namespaces: str) -> None:  # pragma: no cover
        """Invalidate every key of these namespaces."""
        raise NotImplementedError

    async def close(self) -> None:
        return None

    async def namespaced(self, namespace: str, key: str) -> str:
        """``key`` inside ``namespace``'s current generation."""
        return f"{namespace}:{await self.generation(namespace)}:{key}"


class NullCache(BaseCache):
    """Caching turned off: every read goes to the database."""

    async def get(self, key: str) -> Any:
        return None

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        return None

    async def generation(self, namespace: str) -> int:
        return 0

    async def bump(self, *namespaces: str) -> None:
        return None


class MemoryCache(BaseCache):
    """A bounded LRU dictionary with expiry, private to one worker process."""

    def __init__(self, default_ttl: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(default_ttl)
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._generations: dict[str, int] = {}  # never evicted: a reset could revive old keys

    async def get(self, key: str) -> Any:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self._data[key] = (self._clock() + (self.default_ttl if ttl is None else ttl), value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    async def generation(self, namespace: str) -> int:
        return self._generations.get(namespace, 0)

    async def bump(self, *namespaces: str) -> None:
        for namespace in namespaces:
            self._generations[namespace] = self._generations.get(namespace, 0) + 1


class RedisCache(BaseCache):
    """Shared by every worker and host; values stored as JSON."""

    def __init__(self, url: str, default_ttl: float, prefix: str = "quartblog:") -> None:
        super().__init__(default_ttl)
        from ..config import import_optional

        redis = import_optional("redis.asyncio", "redis", "REDIS_URL")  # the optional "redis" extra
        self._redis = redis.from_url(url)
        self.prefix = prefix

    async def get(self, key: str) -> Any:
        raw = await self._redis.get(self.prefix + key)
        return None if raw is None else orjson.loads(raw)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        ttl = self.default_ttl if ttl is None else ttl
        await self._redis.set(self.prefix + key, orjson.dumps(value), px=max(1, int(ttl * 1000)))

    async def generation(self, namespace: str) -> int:
        raw = await self._redis.get(f"{self.prefix}gen:{namespace}")
        return int(raw) if raw is not None else 0

    async def bump(self, *namespaces: str) -> None:
        for namespace in namespaces:
            await self._redis.incr(f"{self.prefix}gen:{namespace}")  # no expiry

    async def close(self) -> None:
        await self._redis.aclose()


def create_cache(config: dict[str, Any]) -> BaseCache:
    ttl = float(config["CACHE_TTL_SECONDS"])
    if not config.get("CACHE_ENABLED", True):
        return NullCache(ttl)
    if config.get("REDIS_URL"):
        return RedisCache(config["REDIS_URL"], ttl, prefix=config.get("CACHE_PREFIX") or "quartblog:")
    return MemoryCache(ttl, max_entries=int(config.get("CACHE_MAX_ENTRIES") or 10_000))


def init_app(app: Quart) -> BaseCache:
    cache = create_cache(app.config)
    app.extensions[EXTENSION_KEY] = cache

    @app.after_serving
    async def _close_cache() -> None:
        await cache.close()

    return cache


def get_cache(app: Quart | None = None) -> BaseCache:
    return (app or current_app).extensions[EXTENSION_KEY]
