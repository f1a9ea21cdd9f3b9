"""quartblog: an async blog engine on Quart, SQLAlchemy 2 (asyncio) and Alembic.

``create_app(config)`` builds an app.  ``app`` is what ``hypercorn quartblog:app``
serves: an ASGI callable that builds the app from the ``QUARTBLOG_*`` environment
variables on first use, so importing the package (``quartblog.models`` from the
migrations, a script) builds nothing and needs no settings.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any, Mapping, NoReturn

from .config import Settings, check_database_url, check_env, check_secret_key, check_site_url, check_smtp_url

if TYPE_CHECKING:
    from quart import Quart


def create_app(config: Mapping[str, Any] | None = None) -> Quart:
    from .web.application import BlogApp
    from .migrations import default_instance_path

    # The instance folder (the default SQLite file, media/) is where alembic's env.py
    # looks too: the checkout's instance/, or ./instance/ for an installed package.
    app = BlogApp(__name__, instance_relative_config=True, instance_path=str(default_instance_path()))
    settings = Settings.from_env().as_dict()
    settings.update(config or {})
    app.config.update(settings)
    app.config["ENV"] = check_env(app.config)
    app.config["DATABASE_URL"] = check_database_url(app.config.get("DATABASE_URL"))
    app.config["SECRET_KEY"] = check_secret_key(app.config)
    app.config["SITE_URL"] = check_site_url(app.config)
    app.config["SMTP_URL"] = check_smtp_url(app.config.get("SMTP_URL"))
    production = app.config["ENV"] == "production"
    app.config["DEBUG"] = False if production else app.config.get("DEBUG", False)
    app.config["TESTING"] = app.config["ENV"] == "testing"

    from . import api, cli, db, jobs, site
    from .web import cache, errors, health, limits, media, request_body, routing, startup, visits

    cache.init_app(app)
    startup.init_app(app)  # the schema check, before the first request's other hooks
    db.init_app(app)
    visits.init_app(app)  # after db: its after_serving flush runs before the engine's dispose
    jobs.init_app(app)  # after db, likewise: the web process's own worker (JOBS_IN_WEB)
    errors.init_app(app)
    limits.init_app(app)
    cli.init_app(app)
    routing.init_app(app)  # converters before the blueprints; the proxy middleware
    request_body.init_app(app)  # an answer leaves the connection reusable, or says Connection: close
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


STARTUP_FAILURE_EXIT_STATUS = 3  # as gunicorn and uvicorn: the worker could not start


def _startup_failed(error: Exception) -> NoReturn:
    """One line on stderr and exit status 3, instead of two copies of a long traceback
    and a server that says nothing went wrong.  Errors the app anticipates (a bad
    setting, an unreachable or outdated database) carry their whole explanation;
    anything else keeps its traceback."""
    from .config import ConfigError
    from .db import DatabaseUnavailable
    from .migrations.startup import SchemaOutOfDate

    if isinstance(error, (ConfigError, DatabaseUnavailable, SchemaOutOfDate)):
        message = " ".join(str(error).split())
    else:
        traceback.print_exception(error, file=sys.stderr)
        message = f"{type(error).__name__}: {' '.join(str(error).split())}"
    print(f"quartblog cannot start: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Not SystemExit: raised inside the server's lifespan task it comes back as
    # "Task exception was never retrieved" and a traceback.  Nothing has started
    # yet that needs an orderly shutdown.
    os._exit(STARTUP_FAILURE_EXIT_STATUS)


class LazyApp:
    """``quartblog:app`` for ASGI servers: the app from the environment, built on the
    server's first call (its lifespan start-up) in the worker process.  Attribute
    access (``app.config``, ``app.test_client()``) reaches the real app; ``get()`` returns it.

    It runs the ASGI lifespan itself so that a start-up failure ends the worker
    with one clear line and exit status 3 (see ``_startup_failed``)."""

    def __init__(self) -> None:
        self._app: Quart | None = None
        self._lock = threading.Lock()

    def get(self) -> Quart:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = create_app()
        return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.get()(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        """Quart's lifespan protocol (quart.asgi.ASGILifespan), with start-up errors
        reported by ``_startup_failed``."""
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                try:
                    app = self.get()
                    app.logger.disabled = True  # Quart would log the error's traceback first
                    try:
                        await app.startup()
                    finally:
                        app.logger.disabled = False
                except Exception as error:
                    _startup_failed(error)
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                try:
                    await self.get().shutdown()
                except Exception as error:
                    await send({"type": "lifespan.shutdown.failed", "message": str(error)})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # inspect's probes (hypercorn's is_asgi) build nothing
            raise AttributeError(name)
        return getattr(self.get(), name)

    def __repr__(self) -> str:
        return f"<quartblog.LazyApp {'built' if self._app is not None else 'not built yet'}>"


app = LazyApp()
