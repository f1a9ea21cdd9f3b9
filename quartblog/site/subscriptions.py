"""New posts by mail (services/subscriptions.py): the subscribe page (the sidebar's box
and the footer's link lead to it: a form with a CSRF token would keep anonymous pages out
of the response cache), the confirmation link, and the unsubscribe link, whose POST is
one-click unsubscribing (RFC 8058): no session, no CSRF token, the signed link is enough."""

from __future__ import annotations

from quart import current_app, flash, redirect, render_template, request, url_for

from ..db import get_session
from ..services import subscriptions
from ..services.errors import ValidationFailed
from ..web.limits import auth_rate_limit
from ..web.routing import base_url
from . import blueprint
from .csrf import csrf_exempt
from .helpers import render_invalid
from .i18n import get_locale
from .i18n import gettext as _
from .identity import login_required, viewer


async def _subscribe_page(form: dict, errors: dict, status: int = 200):
    user = viewer()
    state = await subscriptions.state_of(get_session(), user) if user is not None else subscriptions.NONE
    return await render_template("site/subscribe.html", form=form, errors=errors, state=state), status


@blueprint.route("/subscribe", methods=["GET", "POST"])
@auth_rate_limit
async def subscribe():
    user = viewer()
    if request.method == "GET":
        email = request.args.get("email", "")[:255] or (user.email if user is not None else "")
        return await _subscribe_page({"email": email}, {})
    form = await request.form
    try:
        confirmed = await subscriptions.subscribe(get_session(), form.get("email"), locale=get_locale(),
                                                  user=user, base_url=base_url())
    except ValidationFailed as exc:
        state = await subscriptions.state_of(get_session(), user) if user is not None else subscriptions.NONE
        return await render_invalid("site/subscribe.html", exc, state=state)
    if confirmed:
        await flash(_("You are subscribed: new posts will come to your mailbox."), "success")
    else:  # the same answer for a new, a waiting and an already confirmed address
        await flash(_("Thank you! If this address is not subscribed yet, a message with a link to "
                      "confirm is on its way. Nothing will be sent before you follow it."), "success")
    return redirect(url_for("site.subscribe"), 303)


@blueprint.post("/subscribe/cancel")
@login_required
async def cancel_subscription():
    await subscriptions.unsubscribe_user(get_session(), viewer())
    await flash(_("You are unsubscribed: no more new posts by email."), "success")
    return redirect(url_for("site.subscribe"), 303)


@blueprint.get("/subscribe/confirm/<token>")
async def confirm_subscription(token: str):
    subscriber = await subscriptions.confirm(get_session(), token, secret_key=current_app.config["SECRET_KEY"])
    return await render_template("site/subscription_confirmed.html", confirmed=subscriber is not None), \
        200 if subscriber is not None else 404


@blueprint.route("/unsubscribe/<token>", methods=["GET", "POST"])
async def unsubscribe(token: str):
    """GET: a page with a button (mail scanners follow links: a GET changes nothing).
    POST: the button, or a mail provider's one-click (``List-Unsubscribe=One-Click``)."""
    secret_key = current_app.config["SECRET_KEY"]
    if request.method == "GET":
        valid = subscriptions.unsubscribe_link_valid(secret_key, token)
        return await render_template("site/unsubscribe.html", token=token, valid=valid, done=False), \
            200 if valid else 404
    done = await subscriptions.unsubscribe(get_session(), token, secret_key=secret_key)
    return await render_template("site/unsubscribe.html", token=token, valid=done, done=done), 200 if done else 404


csrf_exempt("site.unsubscribe")
