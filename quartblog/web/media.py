"""Uploaded images: where they are stored, and ``/media/<name>`` that serves them.

**Storage** is pluggable.  Anything with these three methods can hold the files::

    class MediaStorage(Protocol):
        async def save(self, data: bytes, name: str) -> None   # idempotent: same name, same bytes
        def url(self, name: str) -> str                         # the absolute public URL
        async def delete(self, name: str) -> None               # a missing file is not an error

``FileSystemStorage`` (the default) writes under ``MEDIA_DIR`` (the instance
folder's ``media/`` when unset) in a worker thread, and the app serves those files at
``/media/<name>``.  An S3-compatible store can take its place: pass an object with
the same methods as ``create_app({"MEDIA_STORAGE": storage})`` (its ``url`` then points
at the bucket or its CDN, and ``/media/`` answers 404).  Names are content-addressed
(``<sha256 of the stored bytes>.<jpg|png|gif|webp>``), so a file never changes: it is
served with ``Cache-Control: public, max-age=31536000, immutable``.

``limit_upload_body`` refuses a request body larger than ``UPLOAD_MAX_BYTES`` (plus
room for the multipart framing) before it is read: 413 with the API's error shape.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from functools import wraps
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

from quart import Blueprint, Quart, Response, abort, current_app, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

NAME_RE = re.compile(r"^[0-9a-f]{64}\.(jpg|png|gif|webp)$")
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
IMMUTABLE = "public, max-age=31536000, immutable"
# The multipart framing, the CSRF token and the part's headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
EXTENSION = "quartblog.web.media"

blueprint = Blueprint("media", __name__)


class MediaStorage(Protocol):
    async def save(self, data: bytes, name: str) -> None: ...

    def url(self, name: str) -> str: ...

    async def delete(self, name: str) -> None: ...


class FileSystemStorage:
    """Files in one directory, written atomically (a temporary file renamed into place)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        if not NAME_RE.match(name):
            raise ValueError(f"not a media file name: {name!r}")
        return self.directory / name

    def _save(self, data: bytes, name: str) -> None:
        target = self.path(name)
        if target.exists():  # content-addressed: the same name holds the same bytes
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def save(self, data: bytes, name: str) -> None:
        await asyncio.to_thread(self._save, data, name)

    def url(self, name: str) -> str:
        return url_for("media.media_file", name=name, _external=True)

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self.path(name).unlink, missing_ok=True)

    def _read(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    async def read(self, name: str) -> bytes | None:
        return await asyncio.to_thread(self._read, name)


def get_storage(app: Quart | None = None) -> MediaStorage:
    return (app or current_app).extensions[EXTENSION]


def media_dir(app: Quart) -> Path:
    return Path(app.config.get("MEDIA_DIR") or Path(app.instance_path) / "media")


@blueprint.get("/media/<name>")
async def media_file(name: str):
    storage = get_storage()
    match = NAME_RE.match(name)
    if not match or not isinstance(storage, FileSystemStorage):
        abort(404)
    data = await storage.read(name)
    if data is None:
        abort(404)
    response = Response(data, mimetype=CONTENT_TYPES[match.group(1)])
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["X-Content-Type-Options"] = "nosniff"
    # An image never runs anything, even opened on its own.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.set_etag(name.partition(".")[0])
    await response.make_conditional(request)
    return response


UPLOAD_VIEW_ATTRIBUTE = "_quartblog_upload_too_large"


def limit_upload_body(on_too_large: Callable[[], Awaitable[Any]]) -> Callable:
    """Marks an upload view: its request body may hold ``UPLOAD_MAX_BYTES`` (+ framing),
    not the app-wide MAX_CONTENT_LENGTH; a larger one is answered by ``on_too_large()``
    before it is read (``_apply_upload_limit``, ahead of every other before-request
    function: the site's CSRF check reads the form), or as soon as it goes past the limit."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any):
            try:
                return await view(*args, **kwargs)
            except RequestEntityTooLarge:
                return await on_too_large()

        setattr(wrapper, UPLOAD_VIEW_ATTRIBUTE, on_too_large)
        return wrapper

    return decorator


async def _apply_upload_limit():
    view = current_app.view_functions.get(request.endpoint or "")
    on_too_large = getattr(view, UPLOAD_VIEW_ATTRIBUTE, None)
    if on_too_large is None:
        return None
    limit = int(current_app.config["UPLOAD_MAX_BYTES"]) + MULTIPART_OVERHEAD
    if request.content_length is not None and request.content_length > limit:
        return await on_too_large()
    # The form parser stops at this many bytes.  The body object was made with the
    # app-wide MAX_CONTENT_LENGTH; this route's limit replaces it (higher or lower).
    request.max_content_length = limit
    body = request.body
    body._max_content_length = limit
    if isinstance(body._must_raise, RequestEntityTooLarge):
        body._must_raise = None  # refused by the app-wide limit only: within this route's
    return None


def init_app(app: Quart) -> None:
    from PIL import Image

    storage = app.config.get("MEDIA_STORAGE") or FileSystemStorage(media_dir(app))
    app.extensions[EXTENSION] = storage
    # Pillow's own decompression-bomb guard, at the same bound as ours (services/uploads.py).
    Image.MAX_IMAGE_PIXELS = int(app.config["IMAGE_MAX_PIXELS"])
    app.register_blueprint(blueprint)
    app.before_request_funcs.setdefault(None, []).insert(0, _apply_upload_limit)
