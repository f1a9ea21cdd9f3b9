"""The admin (role ``admin``): users, posts, comments (the moderation queue), tags,
the blog's settings and the audit log; a user's password reset link is sent from the
users page.  Every action goes through
``services.admin``/``services.moderation``/``services.settings``, which check the
rules and write the audit row; a refused action is rolled back and explained in a
flash message."""

from __future__ import annotations

from functools import wraps
from typing import Any, Awaitable, Callable

from quart import current_app, flash, redirect, render_template, request, url_for

from ..config import mail_missing
from ..db import get_session
from ..web.media import get_storage
from ..models import Role
from ..services import admin, audit, comments, moderation, password_resets, settings, users
from ..services.errors import N_, PermissionDenied, ValidationFailed
from . import blueprint
from ..web.routing import base_url
from .helpers import go_back, page_window
from .i18n import PREDICATES, field_message, gettext as _, ngettext, translate
from .identity import login_required, viewer

ROLE_NAMES = {Role.ADMIN: N_("admin"), Role.AUTHOR: N_("author"), Role.READER: N_("reader")}
PER_PAGE = 50
STATE_NAMES = {"pending": N_("Waiting for approval"), "hidden": N_("Hidden"), "published": N_("Shown")}
POST_STATE_NAMES = {"": N_("All"), "draft": N_("Drafts"), "scheduled": N_("Scheduled"), "published": N_("Published")}


def admin_required(view: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Signed in (else to the log-in page) and an enabled admin (else 403), before the view."""

    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = viewer()
        if not user.is_admin or user.disabled:
            raise PermissionDenied(N_("only an admin can see this page"))
        return await view(*args, **kwargs)

    return login_required(wrapper)


@blueprint.context_processor
def _mail_warning() -> dict[str, bool]:
    """The admin's pages warn when production has no SMTP server (templates/admin/_admin.html)."""
    return {"mail_missing": mail_missing(current_app.config)}


def _window() -> tuple[int, int]:
    return page_window(PER_PAGE)


def _reason(field: str, message: str) -> str:
    """"The name can't be blank", or a sentence of its own as it is ("the last admin ...")."""
    english = getattr(message, "msgid", str(message))
    return field_message(field, message) if english.startswith(PREDICATES) else translate(message)


async def _refused(exc: ValidationFailed, what: str, default: str):
    """Nothing of the refused action is kept; the reasons in a flash message."""
    await get_session().rollback()
    reasons = "; ".join(_reason(field, m) for field, messages in exc.errors.items() for m in messages)
    await flash(_("%(what)s: %(reasons)s.", what=what, reasons=reasons), "error")
    return go_back(default)


@blueprint.get("/admin")
@admin_required
async def admin_home():
    return redirect(url_for("site.admin_users"), 303)


# --- users -------------------------------------------------------------------------

@blueprint.get("/admin/users")
@admin_required
async def admin_users():
    limit, offset = _window()
    q = request.args.get("q", "").strip()
    listing = await admin.list_users(get_session(), q=q, limit=limit, offset=offset)
    return await render_template("admin/users.html", listing=listing, q=q, roles=list(Role),
                                 tab="users", placeholder=users.DELETED_USERNAME)


@blueprint.post("/admin/users/<username>/role")
@admin_required
async def set_role(username: str):
    role = (await request.form).get("role", "")
    try:
        user = await admin.change_role(get_session(), viewer(), username, role)
    except ValidationFailed as exc:
        return await _refused(exc, _("The role of %(name)s was not changed", name=username),
                              url_for("site.admin_users"))
    await flash(_("%(name)s is now %(role)s.", name=user.username, role=_(ROLE_NAMES[user.role])), "success")
    return go_back(url_for("site.admin_users"))


@blueprint.post("/admin/users/<username>/disable")
@admin_required
async def disable_user(username: str):
    try:
        await admin.set_disabled(get_session(), viewer(), username, True)
    except ValidationFailed as exc:
        return await _refused(exc, _("%(name)s was not disabled", name=username), url_for("site.admin_users"))
    await flash(_("%(name)s is disabled: they cannot sign in.", name=username), "success")
    return go_back(url_for("site.admin_users"))


@blueprint.post("/admin/users/<username>/enable")
@admin_required
async def enable_user(username: str):
    try:
        await admin.set_disabled(get_session(), viewer(), username, False)
    except ValidationFailed as exc:
        return await _refused(exc, _("%(name)s was not enabled", name=username), url_for("site.admin_users"))
    await flash(_("%(name)s can sign in again.", name=username), "success")
    return go_back(url_for("site.admin_users"))


@blueprint.post("/admin/users/<username>/delete")
@admin_required
async def delete_user(username: str):
    posts = (await request.form).get("posts", "")
    try:
        await admin.delete_user(get_session(), viewer(), username, posts, storage=get_storage())
    except ValidationFailed as exc:
        return await _refused(exc, _("%(name)s was not deleted", name=username), url_for("site.admin_users"))
    await flash(_("The account of %(name)s is deleted.", name=username), "success")
    return go_back(url_for("site.admin_users"))


@blueprint.post("/admin/users/<username>/password-reset")
@admin_required
async def send_password_reset(username: str):
    config = current_app.config
    try:
        user = await password_resets.send_link(get_session(), viewer(), username, secret_key=config["SECRET_KEY"],
                                                lifetime=config["PASSWORD_RESET_SECONDS"], base_url=base_url())
    except ValidationFailed as exc:
        return await _refused(exc, _("No link was sent to %(name)s", name=username), url_for("site.admin_users"))
    await flash(_("A link to choose a new password is on its way to %(name)s (%(email)s).",
                  name=user.username, email=user.email), "success")
    return go_back(url_for("site.admin_users"))


# --- posts -------------------------------------------------------------------------

@blueprint.get("/admin/posts")
@admin_required
async def admin_posts():
    limit, offset = _window()
    filters = {k: request.args.get(k, "").strip() for k in ("author", "tag", "q", "state")}
    if filters["state"] not in admin.POST_STATES:
        filters["state"] = ""
    listing = await admin.list_posts(get_session(), limit=limit, offset=offset, **filters)
    actions = {name: label for name, (label, _function) in admin.BULK_ACTIONS.items()}
    return await render_template("admin/posts.html", listing=listing, filters=filters, actions=actions,
                                 states=POST_STATE_NAMES, tab="posts")


@blueprint.post("/admin/posts/bulk")
@admin_required
async def bulk_posts():
    form = await request.form
    ids = [int(i) for i in form.getlist("ids") if i.isascii() and i.isdigit() and len(i) < 11]
    try:
        done = await admin.bulk_posts(get_session(), viewer(), form.get("action", ""), ids)
    except ValidationFailed as exc:
        return await _refused(exc, _("Nothing was changed"), url_for("site.admin_posts"))
    await flash(ngettext("%(num)s post done.", "%(num)s posts done.", done, num=done), "success")
    return go_back(url_for("site.admin_posts"))


# --- comments ----------------------------------------------------------------------

@blueprint.get("/admin/comments")
@admin_required
async def admin_comments():
    limit, offset = _window()
    state = request.args.get("state", "pending")
    if state not in moderation.QUEUE_STATES:
        state = "pending"
    listing = await moderation.list_queue(get_session(), state=state, limit=limit, offset=offset)
    return await render_template("admin/comments.html", listing=listing, state=state,
                                 states=moderation.QUEUE_STATES, state_names=STATE_NAMES, tab="comments")


@blueprint.post("/admin/comments/<id:comment_id>/<any(approve, hide, unhide, delete):action>")
@admin_required
async def admin_moderate_comment(comment_id: int, action: str):
    session = get_session()
    slug = await moderation.slug_of_comment(session, comment_id)
    try:
        if action == "delete":
            await comments.delete_comment(session, viewer(), slug, comment_id)
        else:
            await moderation.set_state(session, viewer(), slug, comment_id, action)
    except ValidationFailed as exc:
        return await _refused(exc, _("The comment was not changed"), url_for("site.admin_comments"))
    await flash(_("The comment was changed."), "success")
    return go_back(url_for("site.admin_comments"))


# --- tags --------------------------------------------------------------------------

@blueprint.get("/admin/tags")
@admin_required
async def admin_tags():
    limit, offset = _window()
    q = request.args.get("q", "").strip()
    listing = await admin.list_tags(get_session(), q=q, limit=limit, offset=offset)
    return await render_template("admin/tags.html", listing=listing, q=q, tab="tags")


@blueprint.post("/admin/tags/<name>/rename")
@admin_required
async def rename_tag(name: str):
    new_name = (await request.form).get("name", "")
    try:
        tag = await admin.rename_tag(get_session(), viewer(), name, new_name)
    except ValidationFailed as exc:
        return await _refused(exc, _("The tag %(tag)s was not renamed", tag=name), url_for("site.admin_tags"))
    await flash(_("The tag %(old)s is now %(new)s.", old=name, new=tag.name), "success")
    return go_back(url_for("site.admin_tags"))


@blueprint.post("/admin/tags/<name>/merge")
@admin_required
async def merge_tag(name: str):
    into = (await request.form).get("into", "")
    try:
        tag = await admin.merge_tags(get_session(), viewer(), name, into)
    except ValidationFailed as exc:
        return await _refused(exc, _("The tag %(tag)s was not merged", tag=name), url_for("site.admin_tags"))
    await flash(_("The tag %(old)s was merged into %(new)s.", old=name, new=tag.name), "success")
    return go_back(url_for("site.admin_tags"))


@blueprint.post("/admin/tags/delete-unused")
@admin_required
async def delete_unused_tags():
    count = await admin.delete_unused_tags(get_session(), viewer())
    await flash(ngettext("%(num)s unused tag deleted.", "%(num)s unused tags deleted.", count, num=count), "success")
    return go_back(url_for("site.admin_tags"))


# --- settings and the audit log ----------------------------------------------------

@blueprint.route("/admin/settings", methods=["GET", "POST"])
@admin_required
async def admin_settings():
    session = get_session()
    if request.method == "POST":
        form = await request.form
        try:
            values = settings.parse({key: form[key] for key in settings.SPECS if key in form})  # absent: unchanged
        except ValidationFailed as exc:  # nothing written; the 422 rolls back anyway
            return await render_template("admin/settings.html", specs=settings.SPECS, values=dict(form),
                                         errors=exc.errors, tab="settings"), 422
        await settings.store(session, values)
        await audit.record(session, viewer(), "settings.change", "settings",
                           ", ".join(f"{k}={v}" for k, v in sorted(values.items())))
        await flash(_("The settings are saved."), "success")
        return redirect(url_for("site.admin_settings"), 303)
    return await render_template("admin/settings.html", specs=settings.SPECS,
                                 values=await settings.get_all(session), errors={}, tab="settings")


@blueprint.get("/admin/audit")
@admin_required
async def admin_audit():
    limit, offset = _window()
    listing = await audit.list_entries(get_session(), limit=limit, offset=offset)
    return await render_template("admin/audit.html", listing=listing, tab="audit")
