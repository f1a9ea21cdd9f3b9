"""Who is signed in: a quart-auth cookie naming a row of ``sign_ins``.

The cookie holds ``<sign-in id>:<secret>`` (``services/sign_ins.py``).  The user is
loaded once per request (one statement: the sign-in joined to its user, with the
blog's email verification mode for the banner) for the
site's pages and for error pages, and kept in ``g.viewer`` (``None`` when anonymous).
Log-out deletes the sign-in, and a password change deletes all of the user's, so a
copied cookie stops working then.  The session (and its CSRF token) is renewed at
log-in and log-out: a token taken before cannot be used after.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps
from typing import Any, Awaitable, Callable

from quart import current_app, flash, g, redirect, request, session, url_for
from quart_auth import AuthUser, current_user, login_user, logout_user

from ..db import get_session
from ..models import User
from ..services import settings, sign_ins
from . import blueprint
from .helpers import current_path, safe_next
from .i18n import gettext

REMEMBER_KEY = "remember_me"


async def sign_in(user: User, *, remember: bool = False) -> None:
    """Sign in with a new sign-in and a new session; "remember me" keeps the cookie
    after the browser is closed."""
    lifetime = timedelta(seconds=current_app.config.get("QUART_AUTH_DURATION", 365 * 24 * 3600))
    token = await sign_ins.create(get_session(), user, forget_before=lifetime)
    session.clear()  # a new CSRF token, nothing carried over from before the log-in
    login_user(AuthUser(token), remember=remember)
    session[REMEMBER_KEY] = remember


async def renew_sign_in(user: User) -> None:
    """After a password change (which deleted every sign-in of the user): this
    browser signs in again, remembered as it was."""
    await sign_in(user, remember=session.get(REMEMBER_KEY, False))


async def sign_out() -> None:
    await sign_ins.delete_one(get_session(), current_user.auth_id)
    logout_user()
    session.clear()


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
    # The user and the blog's email verification mode (the banner, services/verification.py): one statement.
    found = await sign_ins.user_with(get_session(), auth_id, settings.stored(settings.EMAIL_VERIFICATION))
    if found is None:
        logout_user()  # signed out elsewhere, the password was changed, a deleted account
        return
    g.viewer = found[0]
    g.email_verification = settings.value_of(settings.EMAIL_VERIFICATION, found[1][0])


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
async def _viewer_in_templates() -> dict:  # async: Quart runs a plain def in a worker thread
    return {"viewer": g.get("viewer")}
