"""Whole GET responses cached, for anonymous visitors and per API user.

``@cache_response`` on a GET view stores its 200 response in the ``content``
namespace of the app's cache (``quartblog.cache``), under the request's path and
query and a *scope*:

* ``anon``: requests that carry nothing personal (no ``Authorization`` header, no
  sign-in or session cookie: flash messages live in the session);
* ``user:<id>:<write_version>``: API requests with a valid token.  The token's user
  is loaded from the database on every request anyway, and ``write_version``
  counts that user's writes, so after their own write no worker serves them a copy
  from before it, even one with a private in-process cache;
* nothing: signed-in visitors of the HTML site (their pages carry a CSRF token of
  their own session) are always rendered afresh.

Responses that set a cookie are never stored.  Every successful write (POST, PUT,
PATCH or DELETE answered below 400) increments the writer's ``write_version`` in
its own transaction and, once committed, bumps the ``content`` namespace, so this
worker (every worker, with Redis) renders the next request afresh; other workers
with in-process caches follow within ``CACHE_TTL_SECONDS``.

Place the decorator below the API's token decorators, which identify the user.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Awaitable, Callable

from quart import Quart, Response, current_app, g, request

from .cache import NullCache, get_cache
from .db import get_session
from .models import User
from .services import users

NAMESPACE = "content"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HIT_HEADER = "X-Cache"


def remember_actor(user: User | None) -> None:
    """The user making this request (the site's sign-in or the API's token)."""
    g.actor = user


def cache_scope() -> str | None:
    """Whose copy this request may share, or None to bypass the cache."""
    personal = (current_app.config["SESSION_COOKIE_NAME"], current_app.config["QUART_AUTH_COOKIE_NAME"])
    if any(name in request.cookies for name in personal):
        return None
    if "Authorization" not in request.headers:
        return "anon"
    actor: User | None = g.get("actor")
    if actor is None:
        return None
    return f"user:{actor.id}:{actor.write_version}"


def cache_response(view: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        cache = get_cache()
        scope = None if isinstance(cache, NullCache) or request.method != "GET" else cache_scope()
        if scope is None:
            return await view(*args, **kwargs)
        key = await cache.namespaced(NAMESPACE, f"{scope}:{request.full_path}")
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


def _successful_write(response: Response) -> bool:
    return request.method in WRITE_METHODS and response.status_code < 400


def init_app(app: Quart) -> None:
    """The namespace bump after a write.  It must run after the commit, and Quart
    runs after-request functions in reverse order: call this before ``db.init_app``."""

    @app.after_request
    async def _bump_after_commit(response: Response) -> Response:
        if _successful_write(response):
            await get_cache().bump(NAMESPACE)
        return response


def init_write_counter(app: Quart) -> None:
    """The writer's ``write_version``, in the write's own transaction: call this
    after ``db.init_app`` so that it runs before the commit."""

    @app.after_request
    async def _count_the_write(response: Response) -> Response:
        actor: User | None = g.get("actor")
        if actor is not None and _successful_write(response):
            await users.note_write(get_session(), actor.id)
        return response
