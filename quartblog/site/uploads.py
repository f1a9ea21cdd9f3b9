"""Image uploads on the site: a post's pictures from the editor, one's own avatar.

* ``POST /uploads`` (the editor's ``upload.js``: its button, or an image pasted or
  dropped into the text) answers JSON: 201 ``{"upload": {"url", "markdown"}}``, or
  ``{"errors": {"file": [message]}}`` (413 too large, 422 not a usable image), the
  message in the page's language.  People who can write posts only.
* ``POST /settings/avatar`` (a plain form on the settings page, no script needed)
  stores a square avatar and makes it the person's picture; a refused file shows the
  settings page again with the message at the field.

Both are rate-limited (``UPLOAD_RATE_LIMIT_PER_MINUTE``) and refuse bodies over
``UPLOAD_MAX_BYTES`` before reading them (``quartblog.web.media.limit_upload_body``).
"""

from __future__ import annotations

from quart import current_app, flash, redirect, render_template, request, url_for

from ..db import get_session
from ..web.limits import upload_rate_limit
from ..web.media import get_storage, limit_upload_body
from ..services import uploads
from ..services.errors import ValidationFailed
from . import blueprint
from .i18n import field_message
from .i18n import gettext as _
from .identity import login_required, viewer

SETTINGS_TEMPLATE = "auth/settings.html"


def _rules() -> uploads.UploadRules:
    return uploads.UploadRules.from_config(current_app.config)


def _json_errors(exc: ValidationFailed, status: int):
    return {"errors": {name: [field_message(name, message) for message in messages]
                       for name, messages in exc.errors.items()}}, status


async def _editor_too_large():
    return _json_errors(uploads.too_large(_rules().max_bytes), 413)


@blueprint.post("/uploads")
@upload_rate_limit
@limit_upload_body(_editor_too_large)
async def upload_image():
    if viewer() is None:
        return {"errors": {"body": [_("Please sign in first.")]}}, 401
    if not viewer().can_write:
        return {"errors": {"body": [field_message("body", "readers cannot write posts")]}}, 403
    rules = _rules()
    try:
        data = await uploads.read_upload((await request.files).get(uploads.FIELD), rules.max_bytes)
        _upload, url = await uploads.store_image(get_session(), get_storage(), viewer(), data, rules=rules)
    except uploads.UploadTooLarge as exc:
        return _json_errors(exc, 413)
    except ValidationFailed as exc:
        return _json_errors(exc, 422)
    return {"upload": {"url": url, "markdown": f"![]({url})"}}, 201


async def _settings_with_avatar_error(exc: ValidationFailed, status: int):
    user = viewer()
    form = {"email": user.email, "bio": user.bio or "", "image": user.image or ""}
    errors = {"avatar": exc.errors.get(uploads.FIELD, [])}
    return await render_template(SETTINGS_TEMPLATE, form=form, errors=errors), status


async def _avatar_too_large():
    return await _settings_with_avatar_error(uploads.too_large(_rules().max_bytes), 413)


@blueprint.post("/settings/avatar")
@login_required
@upload_rate_limit
@limit_upload_body(_avatar_too_large)
async def upload_avatar():
    rules = _rules()
    try:
        data = await uploads.read_upload((await request.files).get(uploads.FIELD), rules.max_bytes)
        await uploads.set_avatar(get_session(), get_storage(), viewer(), data, rules=rules)
    except uploads.UploadTooLarge as exc:
        return await _settings_with_avatar_error(exc, 413)
    except ValidationFailed as exc:
        return await _settings_with_avatar_error(exc, 422)
    await flash(_("Your new picture is saved."), "success")
    return redirect(url_for("site.settings"), 303)
