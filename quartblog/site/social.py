"""Comments, favorites and follows: small POST actions that redirect back."""

from __future__ import annotations

from quart import flash, redirect, url_for

from ..db import get_session
from ..services import comments, moderation, posts, users
from ..services.errors import N_, ValidationFailed
from . import blueprint
from .helpers import form_value, go_back
from .i18n import field_message, gettext as _
from .identity import login_required, viewer
from ..web.routing import base_url
from .views import render_post


@blueprint.post("/posts/<slug>/comments")
@login_required
async def add_comment(slug: str):
    body = await form_value("body")
    try:
        await comments.add_comment(get_session(), viewer(), slug, body, base_url=base_url())
    except ValidationFailed as exc:
        return await render_post(slug, status=422, errors=exc.errors, comment_body=body)
    await flash(_("Your comment was posted."), "success")
    return redirect(url_for("site.post", slug=slug, _anchor="comments"), 303)


@blueprint.post("/posts/<slug>/comments/<id:comment_id>/delete")
@login_required
async def delete_comment(slug: str, comment_id: int):
    await comments.delete_comment(get_session(), viewer(), slug, comment_id)
    await flash(_("The comment was deleted."), "success")
    return redirect(url_for("site.post", slug=slug, _anchor="comments"), 303)


MODERATION_DONE = {
    "hide": N_("The comment is hidden."),
    "unhide": N_("The comment is shown again."),
    "approve": N_("The comment is approved."),
}


@blueprint.post("/posts/<slug>/comments/<id:comment_id>/<any(hide, unhide, approve):action>")
@login_required
async def moderate_comment(slug: str, comment_id: int, action: str):
    """The post's author (or an admin) hides, shows again or approves a comment."""
    try:
        await moderation.set_state(get_session(), viewer(), slug, comment_id, action)
    except ValidationFailed as exc:
        await get_session().rollback()
        await flash(field_message("comment", exc.errors.get("comment", [""])[0]), "error")
    else:
        await flash(_(MODERATION_DONE[action]), "success")
    return redirect(url_for("site.post", slug=slug, _anchor=f"comment-{comment_id}"), 303)


@blueprint.post("/posts/<slug>/favorite")
@login_required
async def favorite(slug: str):
    await posts.favorite(get_session(), viewer(), slug)
    await flash(_("Added to your favorites."), "success")
    return go_back(url_for("site.post", slug=slug))


@blueprint.post("/posts/<slug>/unfavorite")
@login_required
async def unfavorite(slug: str):
    await posts.unfavorite(get_session(), viewer(), slug)
    await flash(_("Removed from your favorites."), "success")
    return go_back(url_for("site.post", slug=slug))


@blueprint.post("/users/<username>/follow")
@login_required
async def follow(username: str):
    try:
        await users.follow(get_session(), viewer(), username)
    except ValidationFailed:
        await flash(_("You cannot follow yourself."), "error")
        return redirect(url_for("site.user", username=username), 303)
    await flash(_("You are now following %(name)s.", name=username), "success")
    return go_back(url_for("site.user", username=username))


@blueprint.post("/users/<username>/unfollow")
@login_required
async def unfollow(username: str):
    await users.unfollow(get_session(), viewer(), username)
    await flash(_("You no longer follow %(name)s.", name=username), "success")
    return go_back(url_for("site.user", username=username))
