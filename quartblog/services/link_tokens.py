"""Tokens of links mailed to people, for rows that say what the link does (a password
reset, an address to verify): ``<row id>.<secret>``.  The secret is an HMAC of the row's
id under the app's secret key and a purpose, so the mail job writes the link from the id
alone; the row keeps the secret's SHA-256 only, so a copy of the database opens nothing.

Links that need no row (unsubscribe, confirm a subscription) are signed with
itsdangerous instead (``serializer``)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from typing import Any, TypeVar

from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..types import utcnow

Row = TypeVar("Row")

ID_LENGTH = 32  # hex characters of the row's id
SECRET_MAX = 64


def secret(secret_key: str, purpose: str, row_id: str) -> str:
    digest = hmac.new(secret_key.encode(), f"quartblog-{purpose}:{row_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def secret_hash(secret_key: str, purpose: str, row_id: str) -> str:
    """What the row keeps."""
    return digest(secret(secret_key, purpose, row_id))


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def token(secret_key: str, purpose: str, row_id: str) -> str:
    """The link's token for a row."""
    return f"{row_id}.{secret(secret_key, purpose, row_id)}"


def split(token_: str | None) -> tuple[str, str] | None:
    """(row id, secret) of a well-formed token, else None."""
    row_id, _, given = (token_ or "").partition(".")
    if len(row_id) != ID_LENGTH or not given or len(given) > SECRET_MAX:
        return None
    return row_id, given


def matches(stored_hash: str, given_secret: str) -> bool:
    return hmac.compare_digest(stored_hash, digest(given_secret))


async def open_row(session: AsyncSession, model: type[Row], token_: str | None, *, lock: bool = False) -> Row | None:
    """The unused, unexpired row of ``model`` (``id``, ``secret_hash``, ``used_at``,
    ``expires_at``) this token opens, or None (forged, used, expired); ``lock``: FOR UPDATE."""
    parts = split(token_)
    if parts is None:
        return None
    row_id, given = parts
    statement: Any = select(model).where(model.id == row_id)  # type: ignore[attr-defined]
    if lock:
        statement = statement.with_for_update()
    row = await session.scalar(statement)
    if (row is None or row.used_at is not None or row.expires_at <= utcnow()
            or not matches(row.secret_hash, given)):
        return None
    return row


def serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    """For links without a row (``dumps``/``loads``; ``loads`` raises BadSignature)."""
    return URLSafeSerializer(secret_key, salt=f"quartblog-{purpose}")
