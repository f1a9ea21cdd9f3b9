"""The schema check: the app serves only a database at the code's revision (or a newer
release's, see docs/migrations.md), upgrading it first with QUARTBLOG_AUTO_MIGRATE=1.
The app starts while the database is down and checks on the first request that
reaches it; a failed check is tried again at most every RETRY_AFTER_SECONDS, so
``alembic upgrade head`` needs no restart."""

from __future__ import annotations

import asyncio
import logging
import time

from quart import Quart, current_app, request

from ..db import get_db
from ..db.outages import RETRY_AFTER_SECONDS, DatabaseUnavailable, SchemaNotReady, is_busy, is_unavailable
from ..migrations.startup import SchemaOutOfDate, ensure_schema_current
from .errors import unavailable_response

EXTENSION_KEY = "quartblog.schema"
log = logging.getLogger("quartblog.db")


class SchemaGate:
    """Whether the database's schema was found current (``app.extensions["quartblog.schema"]``)."""

    def __init__(self, app: Quart) -> None:
        self.app = app
        self.checked = False
        self.problem: str | None = None
        self._next_check = 0.0
        self._lock = asyncio.Lock()

    async def check(self, *, report: bool = True) -> None:
        """Compare the database's revision with the code's (upgrading it with
        AUTO_MIGRATE) until that succeeds once.  An outage error propagates.  Any
        other failure (``SchemaOutOfDate``, a failed migration) is logged once (unless
        ``report`` is false: start-up reports it itself) and raised; until the next
        try, or while another request runs it, ``SchemaNotReady`` is raised."""
        if self.checked:
            return
        if self._lock.locked():
            raise SchemaNotReady("the schema is being checked (or upgraded)")
        if self.problem is not None and time.monotonic() < self._next_check:
            raise SchemaNotReady(self.problem)
        async with self._lock:
            try:
                await ensure_schema_current(self.app, get_db(self.app))
            except Exception as exc:
                if is_unavailable(exc):
                    raise
                self._next_check = time.monotonic() + RETRY_AFTER_SECONDS
                if report and str(exc) != self.problem:
                    if isinstance(exc, (SchemaOutOfDate, DatabaseUnavailable)):
                        log.error("%s", exc)
                    else:
                        log.exception("the database schema check failed")
                self.problem = str(exc)
                raise
            self.checked = True
            self.problem = None


def get_schema_gate() -> SchemaGate:
    return current_app.extensions[EXTENSION_KEY]


def init_app(app: Quart) -> SchemaGate:
    gate = SchemaGate(app)
    app.extensions[EXTENSION_KEY] = gate

    @app.before_serving
    async def _check_schema_at_start() -> None:
        try:
            await gate.check(report=False)  # a refused start-up says why in one line
        except Exception as exc:
            if not is_unavailable(exc):
                raise  # a schema behind head, wrong credentials ...: refuse to start
            get_db(app).outage.failed(exc, starting=True)

    @app.before_request
    async def _check_schema_once_reachable():
        if gate.checked or (request.endpoint or "").endswith("static") or request.blueprint == "health":
            return None
        try:
            await gate.check()
        except Exception as exc:
            if is_unavailable(exc) or is_busy(exc):
                raise  # on to the error handler: 503, and the outage is noted
            return await unavailable_response()  # the check logged the problem
        return None

    return gate
