"""Writing: new, edit and delete a post (its author, or an admin), with a preview.

The form has two buttons: "Preview" shows the rendered Markdown under the form and
saves nothing; "Publish"/"Save" saves.  Both work without JavaScript.
"""

from __future__ import annotations

from quart import flash, redirect, render_template, request, url_for

from ..db import get_session
from ..services import posts
from ..services.errors import N_, PermissionDenied, ValidationFailed
from . import blueprint
from .helpers import render_invalid
from .i18n import gettext as _
from .identity import login_required, viewer

TEMPLATE = "site/editor.html"
FIELDS = ("title", "description", "body", "tags")


async def _submitted() -> dict[str, str]:
    form = await request.form
    return {name: form.get(name, "") for name in FIELDS}


def _at_form_fields(exc: ValidationFailed) -> ValidationFailed:
    """The services call the tags field ``tagList`` (the API's name); the form calls it ``tags``."""
    exc.errors = {("tags" if name == "tagList" else name): messages for name, messages in exc.errors.items()}
    return exc


async def _preview(form: dict[str, str], **context):
    return await render_template(TEMPLATE, form=form, preview=True, errors={}, **context)


@blueprint.route("/write", methods=["GET", "POST"])
@login_required
async def new_post():
    if not viewer().can_write:
        raise PermissionDenied(N_("readers cannot write posts"))
    if request.method == "GET":
        return await render_template(TEMPLATE, form={}, errors={})
    form = await _submitted()
    if (await request.form).get("action") == "preview":
        return await _preview(form)
    try:
        view = await posts.create_post(get_session(), viewer(), title=form["title"],
                                       description=form["description"], body=form["body"],
                                       tags=form["tags"])
    except ValidationFailed as exc:
        return await render_invalid(TEMPLATE, _at_form_fields(exc), form=form)
    await flash(_("Your post is published."), "success")
    return redirect(url_for("site.post", slug=view.post.slug), 303)


@blueprint.route("/posts/<slug>/edit", methods=["GET", "POST"])
@login_required
async def edit_post(slug: str):
    session = get_session()
    if request.method == "GET":
        post = await posts.get_post_for_edit(session, viewer(), slug)
        view = await posts.get_post_view(session, slug)
        form = {"title": post.title, "description": post.description, "body": post.body,
                "tags": ", ".join(view.tags)}
        return await render_template(TEMPLATE, form=form, errors={}, slug=slug)
    form = await _submitted()
    if (await request.form).get("action") == "preview":
        await posts.get_post_for_edit(session, viewer(), slug)  # 404/403 as for saving
        return await _preview(form, slug=slug)
    try:
        await posts.update_post(session, viewer(), slug, title=form["title"],
                                description=form["description"], body=form["body"],
                                tags=form["tags"])
    except ValidationFailed as exc:
        return await render_invalid(TEMPLATE, _at_form_fields(exc), form=form, slug=slug)
    await flash(_("Your changes are saved."), "success")
    return redirect(url_for("site.post", slug=slug), 303)


@blueprint.post("/posts/<slug>/delete")
@login_required
async def delete_post(slug: str):
    await posts.delete_post(get_session(), viewer(), slug)
    await flash(_("The post was deleted."), "success")
    return redirect(url_for("site.index"), 303)
