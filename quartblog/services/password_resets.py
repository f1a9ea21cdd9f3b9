"""A way back into a locked account: "Forgot password?" sends a link that sets a new one.

* **No enumeration.**  Asking for a link answers the same whether or not the address has
  an account; a link is sent only to an enabled account, at most
  ``PASSWORD_RESETS_PER_HOUR`` an hour per account (the views add a per-address limit).
* **The link's token** is ``<id>.<secret>``: the row keeps the secret's SHA-256 only.
  The secret is an HMAC of the id under the app's secret key, so the mail job can write
  the link from the id alone, and a copy of the database opens nothing.
* **Single use, one hour** (``PASSWORD_RESET_SECONDS``): the row is locked while it is
  used, so two tabs submitting the same link set one password and refuse the other.
  Setting the new password (``users.update_user``) signs out every browser, revokes
  every API token and voids every other link of the account.
* The mail is a job in the outbox (``mail.password_reset``), written in the same
  transaction: quartblog/jobs/handlers.py sends it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import PasswordReset, User
from ..types import utcnow
from . import admin, audit, link_tokens, outbox, users
from .errors import Errors, N_, ValidationFailed

MAIL_KIND = "mail.password_reset"
PURPOSE = "password-reset"
INVALID = N_("is invalid or has expired: ask for a new link")
DISABLED = N_("a disabled account gets no reset link: enable it first")


def token_for(secret_key: str, reset_id: str) -> str:
    """The link's token for a reset row (the mail job writes the link with it)."""
    return link_tokens.token(secret_key, PURPOSE, reset_id)


async def _create(session: AsyncSession, user: User, *, secret_key: str, lifetime: int, locale: str | None,
                  base_url: str | None) -> PasswordReset:
    now = utcnow()
    reset_id = secrets.token_hex(16)
    reset = PasswordReset(id=reset_id, user_id=user.id, created_at=now,
                          expires_at=now + timedelta(seconds=lifetime),
                          secret_hash=link_tokens.secret_hash(secret_key, PURPOSE, reset_id))
    session.add(reset)
    await session.flush()
    await outbox.enqueue(session, MAIL_KIND, {"reset_id": reset_id, "locale": locale or user.locale,
                                              "base_url": base_url})
    return reset


async def request_reset(session: AsyncSession, email: str | None, *, secret_key: str, lifetime: int,
                        per_hour: int, locale: str | None = None, base_url: str | None = None) -> None:
    """Send a reset link to the account with this email, if there is one (see module).
    A malformed address is a ValidationFailed (it says nothing about accounts)."""
    errors = Errors()
    address = users.check_email(errors, email)
    errors.raise_if_any()
    user = await session.scalar(select(User).where(User.email == address))
    if user is None or user.disabled:
        return
    recent = await session.scalar(select(func.count()).select_from(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.created_at > utcnow() - timedelta(hours=1)))
    if per_hour > 0 and (recent or 0) >= per_hour:
        return
    await _create(session, user, secret_key=secret_key, lifetime=lifetime, locale=locale, base_url=base_url)


async def send_link(session: AsyncSession, actor: User, username: str, *, secret_key: str, lifetime: int,
                    base_url: str | None = None) -> User:
    """An admin sends a user a reset link (the admin's users page, or the API's
    ``POST /api/admin/users/<username>/password-reset``); recorded in the audit log.
    Not to a disabled account (nor the placeholder of deleted ones): its link would not work."""
    admin.require_admin(actor)
    user = await users.get_user_by_username(session, username)
    if user.disabled:
        raise ValidationFailed.one("username", DISABLED)
    await _create(session, user, secret_key=secret_key, lifetime=lifetime, locale=None, base_url=base_url)
    await audit.record(session, actor, "user.password_reset", f"user:{user.username}")
    return user


async def find(session: AsyncSession, token: str | None, *, secret_key: str,
               lock: bool = False) -> PasswordReset | None:
    """The unused, unexpired reset this token opens, or None (forged, used, expired)."""
    return await link_tokens.open_row(session, PasswordReset, token, lock=lock)


async def reset_password(session: AsyncSession, token: str | None, password: str | None, *,
                         secret_key: str) -> User:
    """Set the account's new password with a link's token: once (see module)."""
    reset = await find(session, token, secret_key=secret_key, lock=True)
    if reset is None:
        raise ValidationFailed.one("token", INVALID)
    user = await session.get(User, reset.user_id)
    if user is None or user.disabled:
        raise ValidationFailed.one("token", INVALID)
    reset.used_at = utcnow()  # first: the password change voids the account's unused links
    await session.flush()
    await users.update_user(session, user, password=password if password is not None else "")
    return user


async def set_password(session: AsyncSession, username: str, password: str | None) -> User:
    """The owner at the console (``quart --app quartblog set-password``): a new password,
    with the same effects as any password change."""
    user = await users.get_user_by_username(session, username)
    await users.update_user(session, user, password=password if password is not None else "")
    return user
