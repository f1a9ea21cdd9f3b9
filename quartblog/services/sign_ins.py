"""Sign-ins on the site: one row per signed-in browser, so that signing out is real.

The site's cookie (quart-auth, signed with the secret key) holds ``<id>:<secret>``;
the table keeps the id and the secret's SHA-256 only.  A sign-in is created at
log-in, deleted at log-out, and every sign-in of a user is deleted when their
password changes (``users.update_user``); a copy of a cookie whose row is gone opens
nothing.  Loading the signed-in user is one statement (a join).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import SignIn, User
from ..types import utcnow

ID_LENGTH = 32  # hex characters (128 random bits)


def _hash(secret: str) -> str:
    # The secret is 256 random bits: a plain SHA-256 cannot be reversed or guessed.
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str | None) -> tuple[str, str] | None:
    sign_in_id, _, secret = (token or "").partition(":")
    if len(sign_in_id) != ID_LENGTH or not secret:
        return None
    return sign_in_id, secret


async def create(session: AsyncSession, user: User, *, forget_before: timedelta | None = None) -> str:
    """A new sign-in of ``user``; returns the token for the cookie.  Sign-ins of this
    user older than ``forget_before`` (the cookie's longest life) are deleted."""
    if forget_before is not None:
        await session.execute(delete(SignIn).where(
            SignIn.user_id == user.id, SignIn.created_at < utcnow() - forget_before))
    sign_in_id, secret = secrets.token_hex(ID_LENGTH // 2), secrets.token_urlsafe(32)
    session.add(SignIn(id=sign_in_id, secret_hash=_hash(secret), user_id=user.id, created_at=utcnow()))
    await session.flush()
    return f"{sign_in_id}:{secret}"


async def user_of(session: AsyncSession, token: str | None) -> User | None:
    """The user signed in with this token, or None (unknown, revoked or forged): one statement."""
    found = await user_with(session, token)
    return found[0] if found else None


async def user_with(session: AsyncSession, token: str | None, *columns: Any) -> tuple[User, tuple] | None:
    """``user_of`` and the values of ``columns`` (scalar subqueries: what every page needs
    beside the user, such as a setting), in the same one statement."""
    parts = _split(token)
    if parts is None:
        return None
    row = (await session.execute(
        select(User, SignIn.secret_hash, *columns).join(SignIn, SignIn.user_id == User.id)
        .where(SignIn.id == parts[0], User.disabled.is_(False))  # a disabled account is signed out
    )).first()
    if row is None or not hmac.compare_digest(row[1], _hash(parts[1])):
        return None
    return row[0], tuple(row[2:])


async def delete_one(session: AsyncSession, token: str | None) -> None:
    """Sign out the browser holding this token."""
    parts = _split(token)
    if parts is not None:
        await session.execute(delete(SignIn).where(SignIn.id == parts[0]))


async def delete_all(session: AsyncSession, user_id: int) -> None:
    """Sign out every browser of this user (after a password change)."""
    await session.execute(delete(SignIn).where(SignIn.user_id == user_id))
