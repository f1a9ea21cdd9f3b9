"""quartblog: an async blog engine on Quart, SQLAlchemy 2 (asyncio) and Alembic.

``create_app(config)`` builds an app; ``app`` is the one ``hypercorn quartblog:app``
serves, configured from ``QUARTBLOG_*`` environment variables.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from quart import Quart

from .config import Settings, check_secret_key, check_site_url
from .routing import SiteUrlMixin
from .unit_of_work import UnitOfWorkMixin


class BlogApp(UnitOfWorkMixin, SiteUrlMixin, Quart):
    """Quart, with each request one retried unit of work (``unit_of_work``) and every
    URL built from ``SITE_URL`` when it is set (``routing``)."""


def create_app(config: Mapping[str, Any] | None = None) -> Quart:
    app = BlogApp(__name__, instance_relative_config=True)
    settings = Settings.from_env().as_dict()
    settings.update(config or {})
    app.config.update(settings)
    app.config["SECRET_KEY"] = check_secret_key(app.config)
    app.config["SITE_URL"] = check_site_url(app.config)
    production = app.config["ENV"] == "production"
    app.config["DEBUG"] = False if production else app.config.get("DEBUG", False)
    app.config["TESTING"] = app.config["ENV"] == "testing"

    from . import api, cache, cli, db, errors, health, limits, media, routing, site, visits

    cache.init_app(app)
    db.init_app(app)
    visits.init_app(app)  # after db: its after_serving flush runs before the engine's dispose
    errors.init_app(app)
    limits.init_app(app)
    cli.init_app(app)
    routing.init_app(app)  # converters before the blueprints; the proxy middleware
    app.register_blueprint(health.blueprint)
    media.init_app(app)  # uploaded images: the storage, /media/<name>
    site.init_app(app)
    api.init_app(app)

    if app.config["GC_TUNING"]:
        app.before_serving(_tune_garbage_collector)

    # The "quartblog" logger (app.logger: Quart gives it a stderr handler unless logging
    # is configured), at INFO: the outage and migration lines must reach the log.
    app.logger.setLevel(logging.INFO)
    return app


async def _tune_garbage_collector() -> None:
    """Objects made at start-up (modules, the app, compiled templates, mappers) live
    as long as the process: freeze them so collections stop re-scanning them, and
    let more young objects pile up between collections (a request makes thousands)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)


app = create_app()
