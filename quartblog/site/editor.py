"""Writing: new, edit and delete a post (its author, or an admin), drafts and schedules,
with a preview.

The form's buttons (all work without JavaScript):

* "Preview" shows the rendered Markdown under the form and saves nothing;
* "Save draft" saves a draft (only its author and admins see it); on a published
  post, "Back to draft" unpublishes it;
* "Schedule" publishes at the time entered (``publish_at``, a local time in the
  ``timezone`` chosen beside it: the browser's by default, ``site.js``), stored in UTC;
* "Publish" publishes now (a post already out keeps its date); "Save changes"
  keeps a post's state.

With JavaScript, ``site.js`` also shows a live preview beside the text and its word
count, from ``POST /preview`` (the server's sanitizing Markdown renderer).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timezone

from quart import flash, jsonify, redirect, render_template, request, url_for

from ..db import get_session
from ..text.markdown import render_markdown
from ..text.words import word_count
from ..services import posts, verification
from ..services.errors import N_, PermissionDenied, ValidationFailed
from . import blueprint
from .helpers import form_errors, render_invalid
from .i18n import gettext as _
from .identity import login_required, viewer

TEMPLATE = "site/editor.html"
FIELDS = ("title", "description", "body", "tags", "publish_at", "timezone")
# The IANA zones the editor offers, read once (zoneinfo reads the files of the system's
# or the tzdata package's database; not in a request).
TIME_ZONES: tuple[str, ...] = tuple(sorted(zoneinfo.available_timezones() | {"UTC"}))
_ZONE_SET = frozenset(TIME_ZONES)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">
# What each button asks of the services: (status, does it use the form's publish time?)
ACTIONS = {
    "draft": ("draft", False),
    "publish": ("published", False),
    "schedule": ("scheduled", True),
    "save": (None, False),
}

@blueprint.app_template_filter("word_count")
def word_count_filter(markdown_source: str | None) -> int:
    return word_count(render_markdown(markdown_source or ""))


async def _submitted() -> dict[str, str]:
    form = await request.form
    return {name: form.get(name, "") for name in FIELDS}


_FORM_FIELDS = {"tagList": "tags", "publishAt": "publish_at"}


def _at_form_fields(exc: ValidationFailed) -> ValidationFailed:
    """The services use the API's names (``tagList``, ``publishAt``); the form its own."""
    exc.errors = form_errors(exc.errors, _FORM_FIELDS)
    return exc


def publish_time(form: dict[str, str]) -> datetime | None:
    """The form's local publish time in its time zone, as UTC; None when empty.
    ValidationFailed (at the form's fields) for a time or a zone that is not one."""
    local, zone = form.get("publish_at", "").strip(), form.get("timezone", "").strip() or "UTC"
    if zone not in _ZONE_SET:
        raise ValidationFailed.one("timezone", N_("is not a known time zone"))
    if not local:
        return None
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        raise ValidationFailed.one("publish_at", N_("is not a valid date and time")) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    try:
        return moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise ValidationFailed.one("publish_at", N_("is not a valid date and time")) from None


def _local_form_time(moment: datetime | None) -> str:
    """A stored (UTC) time for the form's datetime-local field, with zone UTC."""
    return moment.astimezone(timezone.utc).strftime(LOCAL_FORMAT) if moment else ""


def _context(**context):
    return {"time_zones": TIME_ZONES, **context}


async def _preview(form: dict[str, str], **context):
    return await render_template(TEMPLATE, form=form, preview=True, errors={}, **_context(**context))


async def _save_request(form: dict[str, str], creating: bool) -> dict:
    """The services' ``status``/``publish_at`` for the button pressed."""
    action = (await request.form).get("action") or ("publish" if creating else "save")
    status, timed = ACTIONS.get(action, ACTIONS["publish" if creating else "save"])
    if creating and status is None:
        status = "published"
    when = publish_time(form)  # checked for every button: a bad zone is an error at once
    return {"status": status, "publish_at": when if timed else None}


async def _saved_message(view: posts.PostView) -> None:
    state = view.post.state
    if state == posts.DRAFT:
        await flash(_("Your draft is saved. Only you and the admins can see it."), "success")
    elif state == posts.SCHEDULED:
        await flash(_("Your post is scheduled. It will appear on its publish time."), "success")
    else:
        await flash(_("Your post is published."), "success")


@blueprint.route("/write", methods=["GET", "POST"])
@login_required
async def new_post():
    if not viewer().can_write:
        raise PermissionDenied(N_("readers cannot write posts"))
    await verification.require_verified(get_session(), viewer())  # before the form: mail_links.py's page
    if request.method == "GET":
        return await render_template(TEMPLATE, form={}, errors={}, **_context())
    form = await _submitted()
    if (await request.form).get("action") == "preview":
        return await _preview(form)
    try:
        view = await posts.create_post(get_session(), viewer(), title=form["title"],
                                       description=form["description"], body=form["body"],
                                       tags=form["tags"], **await _save_request(form, True))
    except ValidationFailed as exc:
        return await render_invalid(TEMPLATE, _at_form_fields(exc), form=form, **_context())
    await _saved_message(view)
    return redirect(url_for("site.post", slug=view.post.slug), 303)


@blueprint.route("/posts/<slug>/edit", methods=["GET", "POST"])
@login_required
async def edit_post(slug: str):
    session = get_session()
    post = await posts.get_post_for_edit(session, viewer(), slug)  # 404/403 first
    state = posts.post_state(post.status, post.published_at)
    context = _context(slug=slug, state=state)
    if request.method == "GET":
        view = await posts.get_post_view(session, slug, viewer_id=viewer().id, admin=viewer().is_admin)
        form = {"title": post.title, "description": post.description, "body": post.body,
                "tags": ", ".join(view.tags), "timezone": "UTC",
                "publish_at": _local_form_time(post.published_at) if state == posts.SCHEDULED else ""}
        return await render_template(TEMPLATE, form=form, errors={}, **context)
    form = await _submitted()
    if (await request.form).get("action") == "preview":
        return await _preview(form, **context)
    try:
        view = await posts.update_post(session, viewer(), slug, title=form["title"],
                                       description=form["description"], body=form["body"],
                                       tags=form["tags"], **await _save_request(form, False))
    except ValidationFailed as exc:
        return await render_invalid(TEMPLATE, _at_form_fields(exc), form=form, **context)
    if view.post.state == state:
        await flash(_("Your changes are saved."), "success")
    else:
        await _saved_message(view)
    return redirect(url_for("site.post", slug=slug), 303)


@blueprint.post("/preview")
@login_required
async def preview():
    """The editor's live preview: the text rendered by the server's sanitizing Markdown
    renderer, and its word count.  Saves nothing (nothing is invalidated either)."""
    if not viewer().can_write:
        raise PermissionDenied(N_("readers cannot write posts"))
    body = (await request.form).get("body", "")
    if len(body) > posts.BODY_MAX:
        return jsonify({"error": _("The text is too long to preview.")}), 413
    rendered = render_markdown(body)
    return jsonify({"html": rendered, "words": word_count(rendered)})


@blueprint.post("/posts/<slug>/delete")
@login_required
async def delete_post(slug: str):
    await posts.delete_post(get_session(), viewer(), slug)
    await flash(_("The post was deleted."), "success")
    return redirect(url_for("site.index"), 303)
