"""Whole GET responses cached for anonymous visitors.

``@cache_response`` on a GET view stores its 200 response in the ``content``
namespace of the app's cache (``quartblog.web.cache``).  The rules:

* Only anonymous requests share copies: no ``Authorization`` header and no sign-in
  or session cookie (flash messages live in the session).  Signed-in visitors and
  API clients with a token are always answered afresh, so nobody ever sees a copy
  from before their own write, whichever worker serves them.
* The key is everything such a response depends on: what its blueprint says it
  varies by (``vary_by``: the site's pages by the visitor's language; the API's
  answers by nothing more), the scheme and host the request was sent to (absolute
  links, when ``SITE_URL`` is unset) and the path with its query.
* Responses that set a cookie are never stored.
* The services' writes invalidate, not the HTTP method: once a request's session
  commits a change to anything pages show (``db.changed_content``), the unit of
  work calls ``content_changed()``, which bumps the namespace: this worker (every
  worker, with Redis) renders the next request afresh; other workers with
  in-process caches follow within ``CACHE_TTL_SECONDS``.  A preview, a log-in or a
  refused action changes nothing and invalidates nothing.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Awaitable, Callable

from quart import Quart, Response, current_app, request

from .cache import NullCache, get_cache

NAMESPACE = "content"
HIT_HEADER = "X-Cache"
VARY_KEY = "quartblog.cache_vary"


def vary_by(app: Quart, blueprint: str, part: Callable[[], str]) -> None:
    """Responses of ``blueprint`` also depend on ``part()`` (e.g. the site's language):
    it goes into their cache key."""
    app.extensions.setdefault(VARY_KEY, {})[blueprint] = part


def is_anonymous() -> bool:
    """Does this request carry nothing personal (and so may share a copy)?"""
    if "Authorization" in request.headers:
        return False
    personal = (current_app.config["SESSION_COOKIE_NAME"], current_app.config["QUART_AUTH_COOKIE_NAME"])
    return not any(name in request.cookies for name in personal)


def cache_key() -> str:
    part = current_app.extensions.get(VARY_KEY, {}).get(request.blueprint)
    return f"{part() if part else '-'}:{request.scheme}://{request.host}{request.full_path}"


def cache_response(view: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        cache = get_cache()
        if isinstance(cache, NullCache) or request.method != "GET" or not is_anonymous():
            return await view(*args, **kwargs)
        key = await cache.namespaced(NAMESPACE, cache_key())
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


async def content_changed() -> None:
    """A change to what pages show was committed: forget every cached response."""
    await get_cache().bump(NAMESPACE)
