"""A way back into a locked account: "Forgot password?" and the link it mails
(services/password_resets.py; the mail is a job, sent by quartblog/jobs/)."""

from __future__ import annotations

from quart import current_app, flash, redirect, render_template, request, url_for

from ..db import get_session
from ..services import password_resets
from ..services.errors import N_, ValidationFailed
from ..web.limits import auth_rate_limit
from ..web.routing import base_url
from . import blueprint
from .helpers import form_errors, render_invalid
from .i18n import get_locale
from .i18n import gettext as _
from .identity import sign_in


@blueprint.route("/forgot-password", methods=["GET", "POST"])
@auth_rate_limit
async def forgot_password():
    if request.method == "GET":
        return await render_template("auth/forgot.html", form={}, errors={})
    form = await request.form
    config = current_app.config
    try:
        await password_resets.request_reset(
            get_session(), form.get("email"), secret_key=config["SECRET_KEY"],
            lifetime=config["PASSWORD_RESET_SECONDS"], per_hour=config["PASSWORD_RESETS_PER_HOUR"],
            locale=get_locale(), base_url=base_url())
    except ValidationFailed as exc:  # an address no account can have: says nothing about accounts
        return await render_invalid("auth/forgot.html", exc)
    # The same answer whether or not the address has an account.
    await flash(_("If an account uses that address, a link to choose a new password is on its way. "
                  "It works for one hour."), "success")
    return redirect(url_for("site.login"), 303)


@blueprint.route("/reset-password/<token>", methods=["GET", "POST"])
@auth_rate_limit
async def reset_password(token: str):
    secret_key = current_app.config["SECRET_KEY"]
    if request.method == "GET":
        valid = await password_resets.find(get_session(), token, secret_key=secret_key) is not None
        return await render_template("auth/reset.html", token=token, valid=valid, form={}, errors={}), \
            200 if valid else 404
    form = await request.form
    try:
        if form.get("password", "") != form.get("password_again", ""):
            raise ValidationFailed.one("password_again", N_("the two passwords are not the same"))
        user = await password_resets.reset_password(get_session(), token, form.get("password"),
                                                     secret_key=secret_key)
    except ValidationFailed as exc:
        exc.errors = form_errors(exc.errors, {"password": "password"})
        valid = "token" not in exc.errors
        return await render_invalid("auth/reset.html", exc, token=token, valid=valid)
    await sign_in(user)  # this browser; every other one was signed out
    await flash(_("Your password is changed. Every other browser and app was signed out."), "success")
    return redirect(url_for("site.index"), 303)
