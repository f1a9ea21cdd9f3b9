"""Rate limits on log-in and registration, on the site and the API:
``AUTH_RATE_LIMIT_PER_MINUTE`` attempts per client address.

The limit is read from the app's config on each request (tests and deployments
set it per app); 0 disables rate limiting.  Only attempts count: GET (the site's
forms), HEAD and CORS preflights do not.
"""

from __future__ import annotations

from datetime import timedelta

from quart import Quart, current_app, request
from quart_rate_limiter import RateLimit, RateLimiter, rate_limit

SETTING = "AUTH_RATE_LIMIT_PER_MINUTE"


async def _client_address() -> str:
    # remote_addr, not X-Forwarded-For (which any client can write); behind a proxy,
    # run hypercorn with a proxy-headers middleware so that remote_addr is the client's.
    return request.remote_addr or "unknown"


async def _is_not_an_attempt() -> bool:
    return request.method in ("GET", "HEAD", "OPTIONS")


class PerMinuteFromConfig(RateLimit):
    """A RateLimit whose count is the app's ``AUTH_RATE_LIMIT_PER_MINUTE``."""

    def __init__(self) -> None:
        super().__init__(count=1, period=timedelta(minutes=1),
                         key_function=_client_address, skip_function=_is_not_an_attempt)

    @property
    def count(self) -> int:  # type: ignore[override]
        return max(1, int(current_app.config[SETTING]))

    @count.setter
    def count(self, _value: int) -> None:
        pass  # fixed by the config, see above


auth_rate_limit = rate_limit(limits=[PerMinuteFromConfig()])


def init_app(app: Quart) -> RateLimiter:
    return RateLimiter(app, enabled=app.config.get(SETTING, 0) > 0)
