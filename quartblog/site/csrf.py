"""CSRF protection for the site's forms: one random token per session.

Every form carries ``{{ csrf_field() }}``; every POST/PUT/PATCH/DELETE to the site
blueprint must send the token back (form field ``csrf_token`` or header
``X-CSRF-Token``), compared in constant time, or it is refused with 400 before
the view runs.  The JSON API at /api is another blueprint and is not affected:
it authenticates with a bearer token, which a browser never sends by itself.
"""

from __future__ import annotations

import hmac
import secrets

from markupsafe import Markup, escape
from quart import abort, request, session

from . import blueprint
from .i18n import gettext

SESSION_KEY = "csrf_token"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Endpoints whose POST is authorized by a signed token in their URL, not by a session:
# one-click unsubscribing (RFC 8058), which mail providers send without any cookie.
EXEMPT: set[str] = set()


def csrf_exempt(endpoint: str) -> str:
    """Let POSTs to ``endpoint`` through without the session's token (see EXEMPT)."""
    EXEMPT.add(endpoint)
    return endpoint


def csrf_token() -> str:
    token = session.get(SESSION_KEY)
    if not token:
        token = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="%s" value="%s">') % (FIELD, escape(csrf_token()))


@blueprint.app_context_processor
async def _csrf_helpers() -> dict:  # async: Quart runs a plain def in a worker thread
    return {"csrf_token": csrf_token, "csrf_field": csrf_field}


@blueprint.before_request
async def check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or request.endpoint in EXEMPT:
        return
    expected = session.get(SESSION_KEY)
    sent = request.headers.get(HEADER) or (await request.form).get(FIELD)
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, gettext("The form has expired or did not come from this site. Please go back, reload it and try again."))
