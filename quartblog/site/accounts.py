"""Accounts: register, log in (optionally remembered), log out, settings."""

from __future__ import annotations

from quart import current_app, flash, redirect, render_template, request, session as cookie_session, url_for
from quart_auth import logout_user

from ..db import get_session
from ..web.limits import auth_rate_limit
from ..web.media import get_storage
from ..services import admin, users, verification
from ..services.errors import N_, ValidationFailed
from . import blueprint
from .helpers import form_errors, render_invalid, safe_next
from .i18n import get_locale
from .i18n import gettext as _
from .identity import login_required, renew_sign_in, sign_in, sign_out, viewer
from .mail_links import links


def _settings_form(user) -> dict[str, str]:
    """The settings form as the account stands."""
    return {"email": user.email, "bio": user.bio or "", "image": user.image or "",
            "notify_comments": "on" if user.notify_comments else ""}


async def _render_settings(user, status: int = 200, **context):
    """The settings page, with the address a change waits for."""
    pending = await verification.pending_change(get_session(), user)
    context.setdefault("form", _settings_form(user))
    context.setdefault("errors", {})
    return await render_template("auth/settings.html", pending_email=pending, **context), status


@blueprint.route("/register", methods=["GET", "POST"])
@auth_rate_limit
async def register():
    if request.method == "GET":
        return await render_template("auth/register.html", form={}, errors={})
    form = await request.form
    try:
        user = await users.register(get_session(), username=form.get("username"), email=form.get("email"),
                                    password=form.get("password"),
                                    default_role=current_app.config["DEFAULT_ROLE"])
    except ValidationFailed as exc:
        return await render_invalid("auth/register.html", exc)
    user.locale = get_locale()  # the language of the mails they will get
    mailed = await verification.registered(get_session(), user, links())
    await sign_in(user)
    await flash(_("Welcome, %(name)s! Your account is ready.", name=user.username), "success")
    if mailed:
        await flash(_("A link to verify your address is on its way to %(email)s.", email=user.email), "info")
    return redirect(url_for("site.index"), 303)


@blueprint.route("/login", methods=["GET", "POST"])
@auth_rate_limit
async def login():
    back = safe_next(request.args.get("next"))
    if request.method == "GET":
        return await render_template("auth/login.html", form={}, errors={}, next=back)
    form = await request.form
    try:
        user = await users.authenticate(get_session(), form.get("email"), form.get("password"))
    except ValidationFailed as exc:  # an email no account can have
        return await render_invalid("auth/login.html", exc, next=back)
    if user is None:
        exc = ValidationFailed.one("password", N_("the email or the password is wrong"))
        return await render_invalid("auth/login.html", exc, next=back)
    if user.locale != get_locale():
        await users.set_locale(get_session(), user, get_locale())  # mails follow the language they sign in with
    await sign_in(user, remember=bool(form.get("remember")))
    await flash(_("Welcome back, %(name)s.", name=user.username), "success")
    return redirect(back or url_for("site.index"), 303)


@blueprint.post("/logout")
async def logout():
    await sign_out()
    await flash(_("You are signed out."), "success")
    return redirect(url_for("site.index"), 303)


@blueprint.route("/settings", methods=["GET", "POST"])
@login_required
async def settings():
    user = viewer()
    if request.method == "GET":
        return await _render_settings(user)
    form = await request.form
    session = get_session()
    email = form.get("email", "").strip()
    new_password = form.get("new_password") or None
    errors: dict[str, list] = {}
    try:
        if new_password or email.lower() != user.email:
            # Changing how one signs in needs the current password.
            if not await users.verify_password(user.password_hash, form.get("current_password", "")):
                raise ValidationFailed.one("current_password", N_("is wrong"))
        await users.update_user(session, user, password=new_password, bio=form.get("bio", ""),
                                image=form.get("image", ""),
                                notify_comments=bool(form.get("notify_comments")) if "notifications" in form else None)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    changed = None
    if "current_password" not in errors:
        try:  # now (verification off) or once the new address follows its link
            changed = await verification.change_email(session, user, email, links(), locale=get_locale())
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        exc = ValidationFailed(form_errors(errors, {"password": "new_password"}))
        return await render_invalid("auth/settings.html", exc, pending_email=None)
    if new_password:
        await renew_sign_in(user)  # this browser stays signed in; the others are signed out
    if changed == "pending":
        await flash(_("Your address stays %(old)s until you follow the link we mailed to %(new)s.",
                      old=user.email, new=await verification.pending_change(session, user)), "info")
    await flash(_("Your settings are saved."), "success")
    return redirect(url_for("site.settings"), 303)


@blueprint.post("/settings/delete")
@login_required
async def delete_account():
    """The signed-in user deletes their account, after typing their password again;
    their posts and comments are kept (under the "deleted-user" placeholder) or deleted."""
    user = viewer()
    form = await request.form
    try:
        await admin.delete_own_account(get_session(), user, form.get("delete_password"), form.get("posts", ""),
                                       storage=get_storage())
    except ValidationFailed as exc:
        errors = form_errors(exc.errors, {"current_password": "delete_password"})
        return await _render_settings(user, 422, delete_errors=errors)
    logout_user()
    cookie_session.clear()
    await flash(_("Your account is deleted. Goodbye."), "success")
    return redirect(url_for("site.index"), 303)
