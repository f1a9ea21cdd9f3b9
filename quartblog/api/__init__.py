"""The JSON API at ``/api``: the RealWorld (Conduit) contract over ``quartblog.services``.

An article in the API is a post on the site. Views validate input with
quart-schema models (``schemas``), call the services with the request's session
and return response models; errors are translated in ``errors`` and
``quartblog.web.errors``. Modules: ``users``, ``profiles``, ``articles``,
``comments``, ``tags``, ``uploads``, ``password_resets``, ``subscriptions`` (routes),
``auth`` (JWT), ``schemas``, ``errors``, ``openapi``, ``jsonprovider`` (rate limits on
log-in and registration: ``quartblog.web.limits``).
"""

from __future__ import annotations

from quart import Blueprint, Quart
from quart_cors import cors

blueprint = cors(Blueprint("api", __name__, url_prefix="/api"))

from . import admin, articles, comments, password_resets, profiles, subscriptions, tags, uploads, users  # noqa: E402,F401  (register the routes)
from .errors import init_blueprint  # noqa: E402
from .jsonprovider import OrjsonProvider  # noqa: E402
from .openapi import init_openapi  # noqa: E402

init_blueprint(blueprint)


def init_app(app: Quart) -> None:
    """Register the blueprint with its OpenAPI document, CORS and orjson."""
    init_openapi(app)
    app.json = OrjsonProvider(app)  # after quart-schema, which installs its own provider
    # quart-cors reads these per request; they apply to the api blueprint only.
    app.config.setdefault("QUART_CORS_ALLOW_ORIGIN", app.config.get("CORS_ORIGINS") or [])
    app.config.setdefault("QUART_CORS_ALLOW_HEADERS", ["Authorization", "Content-Type"])
    app.config.setdefault("QUART_CORS_EXPOSE_HEADERS", ["Retry-After"])
    app.config.setdefault("QUART_CORS_MAX_AGE", 600)
    app.register_blueprint(blueprint)
