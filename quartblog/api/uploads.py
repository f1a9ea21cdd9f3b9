"""Image uploads: ``POST /api/uploads`` (an extension of the RealWorld contract).

``multipart/form-data`` with the image in the part ``file``; a token of someone who
can write posts (authors, admins).  Answers 201 ``{"upload": {"url", ...}}``; 413 for
a file over ``UPLOAD_MAX_BYTES`` (refused before the body is read when its length is
known); 422 for anything that is not a usable JPEG/PNG/GIF/WebP image; 403 for readers.
The checks and the cleaning are ``quartblog.services.uploads``'s, as on the site.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from quart import current_app
from quart_schema import DataSource, RequestSchemaValidationError, document_response, validate_request, \
    validate_response

from ..db import get_session
from ..web.errors import error_response
from ..web.limits import upload_rate_limit
from ..web.media import get_storage, limit_upload_body
from ..models import User
from ..services import uploads
from ..services.errors import N_, PermissionDenied
from . import blueprint
from .auth import token_required
from .schemas import ErrorsResponse, UploadedImage, UploadForm, UploadResponse


def _rules() -> uploads.UploadRules:
    return uploads.UploadRules.from_config(current_app.config)


async def _too_large():
    exc = uploads.too_large(_rules().max_bytes)
    return await error_response(413, str(exc), exc.errors)


def _writers_only(view: Callable) -> Callable:
    """Readers are refused before their file is read."""

    @wraps(view)
    async def wrapper(*args: Any, user: User, **kwargs: Any):
        if not user.can_write:
            raise PermissionDenied(N_("readers cannot write posts"))
        try:
            return await view(*args, user=user, **kwargs)
        except RequestSchemaValidationError:  # no part "file", or a text part in its place
            return await error_response(422, uploads.NO_FILE, {uploads.FIELD: [uploads.NO_FILE]})

    return wrapper


@blueprint.post("/uploads")
@upload_rate_limit
@limit_upload_body(_too_large)
@token_required
@_writers_only
@validate_request(UploadForm, source=DataSource.FORM_MULTIPART)
@validate_response(UploadResponse, 201)
@document_response(ErrorsResponse, 403)  # readers cannot upload
@document_response(ErrorsResponse, 413)  # the file is over UPLOAD_MAX_BYTES
async def upload_image(data: UploadForm, user: User):
    """Upload an image for an article (JPEG, PNG, GIF or WebP); use its URL in the body's Markdown"""
    rules = _rules()
    try:
        content = await uploads.read_upload(data.file, rules.max_bytes)
        upload, url = await uploads.store_image(get_session(), get_storage(), user, content, rules=rules)
    except uploads.UploadTooLarge as exc:
        return await error_response(413, str(exc), exc.errors)
    return UploadResponse(upload=UploadedImage(url=url, width=upload.width, height=upload.height,
                                               size=upload.size, content_type=upload.content_type)), 201
