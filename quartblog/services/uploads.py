"""Uploaded images, judged by their bytes: decoded by Pillow as JPEG, PNG, GIF or WebP
only, pixels bounded before decoding, then re-encoded from the pixels (no metadata
survives), turned upright and scaled down, in a worker thread; stored under the SHA-256
of the stored bytes.  A file is saved only once its row is written and removed only after
the deletion is committed (``db.after_commit``).  docs/architecture.md, "Images"."""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import dataclass
from typing import Any, Mapping

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError
from functools import partial

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import after_commit
from ..models import Upload, User
from . import users
from .errors import N_, Message, ValidationFailed

FIELD = "file"
POST, AVATAR = "post", "avatar"
# Pillow format -> (extension, content type, save options)
FORMATS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "JPEG": ("jpg", "image/jpeg", {"quality": 85, "optimize": True}),
    "PNG": ("png", "image/png", {"optimize": True}),
    "GIF": ("gif", "image/gif", {}),
    "WEBP": ("webp", "image/webp", {"quality": 85}),
}
ORIENTATION_TAG = 0x0112
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

NO_FILE = N_("No file was sent.")
EMPTY = N_("The file is empty.")
NOT_AN_IMAGE = N_("The file is not a JPEG, PNG, GIF or WebP image.")
DAMAGED = N_("The image is damaged or incomplete.")


class UploadTooLarge(ValidationFailed):
    """A file over the size limit: 413 rather than 422."""


def too_large(max_bytes: int) -> UploadTooLarge:
    return UploadTooLarge({FIELD: [Message("The file is larger than %(megabytes)s MB.",
                                           megabytes=f"{max_bytes / (1024 * 1024):g}")]})


@dataclass(frozen=True)
class UploadRules:
    max_bytes: int
    max_width: int
    max_pixels: int
    avatar_size: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "UploadRules":
        return cls(max_bytes=int(config["UPLOAD_MAX_BYTES"]), max_width=int(config["IMAGE_MAX_WIDTH"]),
                   max_pixels=int(config["IMAGE_MAX_PIXELS"]), avatar_size=int(config["AVATAR_SIZE"]))


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    extension: str
    content_type: str
    width: int
    height: int

    @property
    def name(self) -> str:
        return f"{hashlib.sha256(self.data).hexdigest()}.{self.extension}"


def _too_many_pixels(max_pixels: int) -> ValidationFailed:
    return ValidationFailed.one(FIELD, Message("The image has too many pixels (at most %(megapixels)s million).",
                                               megapixels=f"{max_pixels / 1_000_000:g}"))


def _clean_frame(frame: Image.Image, transpose: Image.Transpose | None, *, max_width: int,
                 square: int | None, keep_palette: bool) -> Image.Image:
    frame = frame.copy()  # decodes it: a truncated frame raises here
    if frame.mode not in ("RGB", "RGBA", "L", "LA") and not (keep_palette and frame.mode == "P"):
        frame = frame.convert("RGBA" if frame.has_transparency_data or "A" in frame.mode else "RGB")
    if transpose is not None:
        frame = frame.transpose(transpose)
    if square:
        side = min(square, frame.width, frame.height)
        frame = ImageOps.fit(frame, (side, side), Image.Resampling.LANCZOS)
    elif frame.width > max_width:
        frame = frame.resize((max_width, max(1, round(frame.height * max_width / frame.width))),
                             Image.Resampling.LANCZOS)
    return frame


def clean_image(data: bytes, *, max_width: int, max_pixels: int, square: int | None = None) -> CleanImage:
    """The image in ``data``, checked and re-encoded (CPU-bound: run it in a thread).
    Raises ValidationFailed with a message for the person who uploaded it."""
    if not data:
        raise ValidationFailed.one(FIELD, EMPTY)
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
            image_format = image.format or ""
            if image.width * image.height > max_pixels:  # from the header, before decoding
                raise _too_many_pixels(max_pixels)
            extension, content_type, options = FORMATS[image_format]
            icc_profile = image.info.get("icc_profile")
            transpose = TRANSPOSE.get(image.getexif().get(ORIENTATION_TAG))
            animated = getattr(image, "is_animated", False) and not square
            frames: list[Image.Image] = []
            durations: list[int] = []
            budget = max_pixels
            for frame in ImageSequence.Iterator(image):
                budget -= frame.width * frame.height
                if budget < 0:
                    raise _too_many_pixels(max_pixels)
                # A GIF without resizing keeps its palette; otherwise frames are RGB(A).
                frames.append(_clean_frame(frame, transpose, max_width=max_width, square=square,
                                           keep_palette=image_format == "GIF" and frame.width <= max_width))
                durations.append(int(frame.info.get("duration") or 100))
                if not animated:
                    break
            loop = image.info.get("loop")
    except ValidationFailed:
        raise
    except UnidentifiedImageError:
        raise ValidationFailed.one(FIELD, NOT_AN_IMAGE) from None
    except Image.DecompressionBombError:
        raise _too_many_pixels(max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError):
        raise ValidationFailed.one(FIELD, DAMAGED) from None

    first = frames[0]
    for frame in frames:
        frame.info = {}  # no EXIF, XMP or comment is carried over by the encoder
    if image_format == "JPEG" and first.mode not in ("RGB", "L"):
        first = first.convert("RGB")
    save: dict[str, Any] = dict(options)
    if icc_profile and image_format != "GIF":
        save["icc_profile"] = icc_profile
    if len(frames) > 1:
        save.update(save_all=True, append_images=frames[1:], duration=durations)
        if loop is not None:
            save["loop"] = loop
    output = io.BytesIO()
    first.save(output, format=image_format, **save)
    return CleanImage(output.getvalue(), extension, content_type, first.width, first.height)


async def store_image(session: AsyncSession, storage: Any, user: User, data: bytes, *,
                      rules: UploadRules, purpose: str = POST) -> tuple[Upload, str]:
    """Check, clean and store an image ``user`` uploaded; its row and public URL."""
    if len(data) > rules.max_bytes:
        raise too_large(rules.max_bytes)
    clean = await asyncio.to_thread(
        clean_image, data, max_width=rules.max_width, max_pixels=rules.max_pixels,
        square=rules.avatar_size if purpose == AVATAR else None)
    upload = Upload(user_id=user.id, name=clean.name, purpose=purpose, content_type=clean.content_type,
                    size=len(clean.data), width=clean.width, height=clean.height)
    session.add(upload)
    await session.flush()
    await storage.save(clean.data, clean.name)  # last: a refused upload leaves no file
    return upload, storage.url(clean.name)


async def set_avatar(session: AsyncSession, storage: Any, user: User, data: bytes, *,
                     rules: UploadRules) -> str:
    """Store ``data`` as ``user``'s avatar and make it their picture; its URL."""
    _upload, url = await store_image(session, storage, user, data, rules=rules, purpose=AVATAR)
    await users.update_user(session, user, image=url)
    return url


async def _delete_files_after_commit(session: AsyncSession, storage: Any, names: set[str]) -> None:
    """Of these names, the files no upload row names any more go, once the deletion is
    committed (``db.after_commit``): a rolled-back deletion finds its files in place."""
    if not names:
        return
    still_named = set(await session.scalars(select(Upload.name).where(Upload.name.in_(sorted(names)))))
    for name in sorted(names - still_named):
        after_commit(session, partial(storage.delete, name))


async def delete_user_uploads(session: AsyncSession, storage: Any, user_id: int, *,
                              purposes: tuple[str, ...] = (POST, AVATAR)) -> int:
    """Delete a person's uploads of these purposes (rows now; their files after the
    commit, unless someone else uploaded the same image); how many.  Three statements."""
    condition = (Upload.user_id == user_id, Upload.purpose.in_(purposes))
    names = set(await session.scalars(select(Upload.name).where(*condition)))
    if not names:
        return 0
    done = (await session.execute(delete(Upload).where(*condition)
                                  .execution_options(synchronize_session=False))).rowcount
    await _delete_files_after_commit(session, storage, names)
    return int(done or 0)


async def read_upload(file: Any, max_bytes: int) -> bytes:
    """The bytes of an uploaded form file (a spooled temporary file: read in a thread),
    refused when larger than ``max_bytes`` without reading further."""
    if file is None:
        raise ValidationFailed.one(FIELD, NO_FILE)

    def read() -> bytes:
        return file.stream.read(max_bytes + 1)

    data = await asyncio.to_thread(read)
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    if not data and not file.filename:
        raise ValidationFailed.one(FIELD, NO_FILE)  # the form's file field left empty
    return data
