"""Who is signed in: a quart-auth cookie holding ``<user id>:<password fingerprint>``.

The user is loaded once per request (one statement) for the site's pages and for
error pages, and kept in ``g.viewer`` (``None`` when anonymous).  The fingerprint
is derived from the password hash, so changing the password signs out every other
browser that was signed in with the old one.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import wraps
from typing import Any, Awaitable, Callable

from quart import flash, g, redirect, request, session, url_for
from quart_auth import AuthUser, current_user, login_user, logout_user

from ..db import get_session
from ..response_cache import remember_actor
from ..models import User
from ..services import users
from . import blueprint
from .helpers import current_path, safe_next
from .i18n import gettext

REMEMBER_KEY = "remember_me"


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def sign_in(user: User, *, remember: bool = False) -> None:
    """Sign in; "remember me" keeps the cookie after the browser is closed."""
    login_user(AuthUser(f"{user.id}:{_fingerprint(user)}"), remember=remember)
    session[REMEMBER_KEY] = remember


def renew_sign_in(user: User) -> None:
    """A new cookie after a password change, remembered as the old one was."""
    sign_in(user, remember=session.get(REMEMBER_KEY, False))


def sign_out() -> None:
    logout_user()
    session.pop(REMEMBER_KEY, None)


def viewer() -> User | None:
    """The signed-in user of this request, or None."""
    return g.get("viewer")


def viewer_id() -> int | None:
    user = viewer()
    return user.id if user else None


@blueprint.before_app_request
async def load_viewer() -> None:
    g.viewer = None
    # The site's pages, and unmatched URLs (their 404 page is in the site's layout).
    if request.blueprint != blueprint.name and request.url_rule is not None:
        return
    auth_id = current_user.auth_id
    if not auth_id:
        return
    user_id, _, fingerprint = auth_id.partition(":")
    user = await users.get_user(get_session(), int(user_id)) if user_id.isdigit() else None
    if user is None or not hmac.compare_digest(fingerprint, _fingerprint(user)):
        logout_user()  # a deleted account, or the password was changed elsewhere
        return
    g.viewer = user
    remember_actor(user)


def login_required(view: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Anonymous visitors are sent to the log-in page, and come back afterwards."""

    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if viewer() is None:
            await flash(gettext("Please sign in first."), "info")
            back = current_path() if request.method == "GET" else safe_next(request.referrer)
            return redirect(url_for("site.login", next=back))
        return await view(*args, **kwargs)

    return wrapper


@blueprint.app_context_processor
def _viewer_in_templates() -> dict:
    return {"viewer": g.get("viewer")}
