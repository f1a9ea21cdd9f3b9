"""Links mailed to people, other than "forgot password" (recovery.py): verify an address
(services/verification.py: the banner and its "send the link again", the page the link
opens) and stop comment notifications (services/notifications.py: one click, RFC 8058)."""

from __future__ import annotations

from quart import current_app, flash, g, redirect, render_template, request, url_for

from ..db import get_session
from ..services import notifications, verification
from ..services.errors import ValidationFailed
from . import blueprint
from .csrf import csrf_exempt
from .helpers import go_back
from .i18n import field_message, get_locale
from .i18n import gettext as _
from .identity import login_required, viewer
from ..web.routing import base_url


def links() -> verification.Links:
    return verification.Links.of(current_app.config, base_url())


@blueprint.app_template_global()
def verification_banner() -> str | None:
    """What the page's banner asks of the signed-in person: "required" (they cannot write
    before), "optional", or None (verified, or the blog does not verify addresses)."""
    user = g.get("viewer")
    if user is None or user.email_verified_at is not None:
        return None
    return {verification.OPTIONAL: "optional", verification.REQUIRED: "required"}.get(
        g.get("email_verification", verification.OFF))


@blueprint.errorhandler(verification.EmailNotVerified)
async def _verify_first(exc: verification.EmailNotVerified):
    """Writing refused until the address is verified: say so, with the button that sends the link."""
    return await render_template("auth/verify_first.html"), 403


@blueprint.post("/verify-email/resend")
@login_required
async def resend_verification():
    """The banner's (or the settings page's, ``change=1``: the new address) "send the link again"."""
    user = viewer()
    change = bool((await request.form).get("change"))
    try:
        sent = await verification.resend(get_session(), user, links(), change=change, locale=get_locale())
    except ValidationFailed as exc:  # the hour's links are used up (nothing was written)
        await flash(field_message("email", exc.errors["email"][0]), "error")
        return go_back(url_for("site.settings"))
    if sent:
        address = await verification.pending_change(get_session(), user) if change else user.email
        await flash(_("A new link is on its way to %(email)s.", email=address), "success")
    else:
        await flash(_("There is no address waiting to be verified."), "info")
    return go_back(url_for("site.settings"))


@blueprint.route("/verify-email/<token>", methods=["GET", "POST"])
async def verify_email(token: str):
    """The link: a page with one button (a mail scanner that opens links changes nothing),
    which verifies the address, or makes it the account's for a change of address."""
    session = get_session()
    secret_key = current_app.config["SECRET_KEY"]
    if request.method == "GET":
        row = await verification.find(session, token, secret_key=secret_key)
        return await render_template("auth/verify.html", token=token, email=row.email if row else None,
                                     errors={}), 200 if row else 404
    try:
        done = await verification.verify(session, token, secret_key=secret_key, base_url=base_url())
    except ValidationFailed as exc:  # a used or forged link (404), an address taken meanwhile (409)
        taken = "email" in exc.errors
        return await render_template("auth/verify.html", token=token, email=None, errors=exc.errors), \
            409 if taken else 404
    if done.changed_from:
        await flash(_("Your email address is now %(email)s.", email=done.user.email), "success")
    else:
        await flash(_("Thank you: your email address is verified."), "success")
    signed_in = viewer() is not None and viewer().id == done.user.id
    return redirect(url_for("site.settings" if signed_in else "site.index"), 303)


@blueprint.route("/unsubscribe/comments/<token>", methods=["GET", "POST"])
async def unsubscribe_comments(token: str):
    """GET: a page with the button; POST (the button, or the mail client's one click): off."""
    session = get_session()
    secret_key = current_app.config["SECRET_KEY"]
    if request.method == "GET":
        user = await notifications.unsubscriber(session, token, secret_key=secret_key)
        return await render_template("auth/unsubscribe.html", token=token, valid=user is not None,
                                     done=False), 200 if user else 404
    user = await notifications.unsubscribe(session, token, secret_key=secret_key)
    return await render_template("auth/unsubscribe.html", token=token, valid=user is not None,
                                 done=user is not None), 200 if user else 404


csrf_exempt("site.unsubscribe_comments")  # a mail client POSTs "List-Unsubscribe=One-Click" with no cookie (RFC 8058)
