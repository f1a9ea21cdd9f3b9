"""Rate limits on log-in and registration, on the site and the API:
``AUTH_RATE_LIMIT_PER_MINUTE`` attempts per client address; and on image uploads:
``UPLOAD_RATE_LIMIT_PER_MINUTE`` (``upload_rate_limit``).

The counts live in the worker's memory, or, with ``REDIS_URL`` set, in Redis under
``CACHE_PREFIX + "ratelimit:"``, shared by every worker and host (else each of
N workers would let N times the limit through).  Behind a reverse proxy, set
``PROXY_HOPS`` so that the client address is the one the proxy saw.

The limit is read from the app's config on each request (tests and deployments
set it per app); 0 disables rate limiting.  Only attempts count: GET (the site's
forms), HEAD and CORS preflights do not.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from quart import Quart, current_app, request
from quart_rate_limiter import RateLimit, RateLimiter, rate_limit
from quart_rate_limiter.store import RateLimiterStoreABC

SETTING = "AUTH_RATE_LIMIT_PER_MINUTE"
UPLOAD_SETTING = "UPLOAD_RATE_LIMIT_PER_MINUTE"


async def _client_address() -> str:
    # remote_addr, not X-Forwarded-For (which any client can write); behind a proxy,
    # PROXY_HOPS (quartblog/routing.py) makes remote_addr the client's.
    return request.remote_addr or "unknown"


async def _is_not_an_attempt() -> bool:
    return request.method in ("GET", "HEAD", "OPTIONS")


class PerMinuteFromConfig(RateLimit):
    """A RateLimit whose count is the app's ``setting`` (``AUTH_RATE_LIMIT_PER_MINUTE``);
    0 there skips it."""

    def __init__(self, setting: str = SETTING) -> None:
        async def skip() -> bool:
            return await _is_not_an_attempt() or int(current_app.config.get(setting) or 0) <= 0

        self.setting = setting
        super().__init__(count=1, period=timedelta(minutes=1),
                         key_function=_client_address, skip_function=skip)

    @property
    def count(self) -> int:  # type: ignore[override]
        return max(1, int(current_app.config.get(self.setting) or 0))

    @count.setter
    def count(self, _value: int) -> None:
        pass  # fixed by the config, see above


auth_rate_limit = rate_limit(limits=[PerMinuteFromConfig()])
upload_rate_limit = rate_limit(limits=[PerMinuteFromConfig(UPLOAD_SETTING)])


class SharedRedisStore(RateLimiterStoreABC):
    """quart-rate-limiter's store in Redis: prefixed keys that expire once they no
    longer limit anything (the library's own RedisStore keeps them forever)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._redis = None

    async def before_serving(self) -> None:
        from ..config import import_optional

        aioredis = import_optional("redis.asyncio", "redis", "REDIS_URL")  # the optional "redis" extra
        self._redis = aioredis.from_url(self.url)

    async def after_serving(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def get(self, key: str, default: datetime) -> datetime:
        raw = await self._redis.get(self.prefix + key)
        return default if raw is None else datetime.fromtimestamp(float(raw), timezone.utc)

    async def set(self, key: str, tat: datetime) -> None:
        # After its theoretical arrival time a key limits nothing: let it expire then.
        await self._redis.set(self.prefix + key, tat.timestamp(), pxat=int(tat.timestamp() * 1000) + 1000)


def init_app(app: Quart) -> RateLimiter:
    store = None
    if app.config.get("REDIS_URL"):
        store = SharedRedisStore(app.config["REDIS_URL"], (app.config.get("CACHE_PREFIX") or "") + "ratelimit:")
    enabled = app.config.get(SETTING, 0) > 0 or app.config.get(UPLOAD_SETTING, 0) > 0
    return RateLimiter(app, store=store, enabled=enabled)
