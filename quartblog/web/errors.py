"""One error handler: an HTML page in the site's layout, or JSON for API clients.

JSON is chosen for paths under ``/api`` and for clients that prefer
``application/json``; the JSON shape is the API contract's
``{"errors": {"<field>": ["<message>"]}}``.
"""

from __future__ import annotations

import logging

from quart import Quart, abort, render_template, request
from quart_rate_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException, InternalServerError

from ..db import RETRY_AFTER_SECONDS, TooManyAtOnce, get_db
from ..services.errors import NotFound, PermissionDenied, ValidationFailed

log = logging.getLogger(__name__)


def wants_json() -> bool:
    if request.path == "/api" or request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


async def error_response(code: int, message: str, errors: dict[str, list[str]] | None = None):
    if wants_json():
        return {"errors": errors or {"body": [message]}}, code
    html = await render_template("errors/error.html", code=code, message=message)
    return html, code


UNAVAILABLE_MESSAGE = "The database is unavailable at the moment: please try again shortly."


async def unavailable_response(message: str = UNAVAILABLE_MESSAGE):
    """503 with Retry-After: the database is down, or too slow, for now."""
    body, status = await error_response(503, message)
    return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def init_app(app: Quart) -> None:
    @app.before_request
    async def _refuse_nul_characters():
        # No name, slug, tag or search can hold U+0000 (PostgreSQL cannot even store it):
        # answer before any of it reaches a query.
        if "\x00" in request.path:
            abort(404)
        if "%00" in request.query_string.decode("latin-1") or any("\x00" in v for v in request.args.values()):
            abort(400, "The address contains a NUL character.")

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        body, status = await error_response(exc.code, exc.description or exc.name)
        # The exception's own headers (405's Allow, 401's WWW-Authenticate), not its content type.
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return body, status, headers

    @app.errorhandler(RateLimitExceeded)
    async def _too_many(exc: RateLimitExceeded):
        body, status = await error_response(429, "Too many attempts: please wait a minute and try again.")
        return body, status, {"Retry-After": str(exc.retry_after)}

    @app.errorhandler(TooManyAtOnce)
    async def _too_many_at_once(exc: TooManyAtOnce):
        # Searches (db/limits.py): every slot of this worker is taken; other pages are served.
        return await unavailable_response(f"Too many {exc.what} at the moment: please try again shortly.")

    @app.errorhandler(NotFound)
    async def _not_found(exc: NotFound):
        return await error_response(404, f"{exc.what} not found".capitalize())

    @app.errorhandler(PermissionDenied)
    async def _forbidden(exc: PermissionDenied):
        return await error_response(403, exc.message, exc.errors)

    @app.errorhandler(ValidationFailed)
    async def _invalid(exc: ValidationFailed):
        return await error_response(422, str(exc), exc.errors)

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception):
        if get_db().note_failure(exc):  # an outage (logged once) or a statement out of time
            return await unavailable_response()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return await error_response(500, InternalServerError.description)
