"""Whole responses cached for anonymous visitors, invalidated by every write.

``@cache_for_anonymous`` on a GET view stores its 200 response under the request's
path and query, in the ``content`` namespace of the app's cache
(``quartblog.cache``).  It serves a stored copy only to requests that carry
nothing personal: no ``Authorization`` header, no sign-in cookie, no session
cookie (flash messages live there).  Responses that set a cookie are never stored.

Every successful write (a POST, PUT, PATCH or DELETE answered below 400) bumps
the ``content`` namespace after its transaction has committed, so the next
anonymous request on this worker (on every worker, with Redis) is rendered
afresh; other workers with their own in-process cache follow within
``CACHE_TTL_SECONDS``.  Signed-in users and API clients with a token are never
served from this cache, so they always see their own writes.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Awaitable, Callable

from quart import Quart, Response, current_app, request

from .cache import NullCache, get_cache

NAMESPACE = "content"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HIT_HEADER = "X-Cache"


def is_anonymous() -> bool:
    if "Authorization" in request.headers:
        return False
    personal = (current_app.config.get("SESSION_COOKIE_NAME", "session"),
                current_app.config.get("QUART_AUTH_COOKIE_NAME", "QUART_AUTH"))
    return not any(name in request.cookies for name in personal)


def cache_for_anonymous(view: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        cache = get_cache()
        if isinstance(cache, NullCache) or request.method != "GET" or not is_anonymous():
            return await view(*args, **kwargs)
        key = await cache.namespaced(NAMESPACE, "page:" + request.full_path)
        stored = await cache.get(key)
        if stored is not None:
            response = Response(stored["body"], status=200, content_type=stored["type"])
            response.headers[HIT_HEADER] = "hit"
            return response
        response = await current_app.make_response(await view(*args, **kwargs))
        if response.status_code == 200 and "Set-Cookie" not in response.headers:
            body = await response.get_data(as_text=True)
            await cache.set(key, {"body": body, "type": response.content_type})
            response.headers[HIT_HEADER] = "miss"
        return response

    return wrapper


def init_app(app: Quart) -> None:
    """Register the invalidation.  Call it before ``db.init_app``: Quart runs
    after-request functions in reverse order, so this one runs after the commit."""

    @app.after_request
    async def _invalidate_after_write(response: Response) -> Response:
        if request.method in WRITE_METHODS and response.status_code < 400:
            await get_cache().bump(NAMESPACE)
        return response
