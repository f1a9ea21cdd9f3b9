"""Addresses shown to be their owner's: a link mailed to the address, followed.

The admin's setting ``accounts.email_verification`` (services/settings.py) says how much
it matters:

* **off** (0): nothing is mailed at sign-up; a change of address takes effect at once.
* **optional** (1): a link is mailed at sign-up; pages remind unverified accounts (a
  banner with a button that mails the link again).
* **required** (2): as optional, and an unverified account can neither write a post nor
  comment (``require_verified``: 403, ``{"errors": {"email": ["must be verified first"]}}``
  on the API).  Accounts older than the setting are unverified too: the banner is their
  one click.

A change of address, with the mode on, takes effect only when the link mailed to the new
address is followed (``change_email`` keeps the old one meanwhile; ``verify`` changes it,
after checking again that no other account took the address since: a clear 422, never a
500).  Whatever the mode, the old address is told that the address changed
(``mail.email_changed``): the account's owner learns it even if someone else did it.

Links are rows of ``email_verifications`` with tokens ``<id>.<secret>``
(services/link_tokens.py), at most ``EMAIL_VERIFICATIONS_PER_HOUR`` an hour per account,
valid ``EMAIL_VERIFICATION_SECONDS``, once; following one voids the account's other links
(an older link to the old address must not change it back).  The mails are jobs in the
outbox, written in the request's transaction (quartblog/jobs/notifications.py sends them).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Mapping

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ..models import EmailVerification, User
from ..types import utcnow
from . import link_tokens, outbox, settings, users
from .errors import Errors, N_, PermissionDenied, ValidationFailed

MAIL_KIND = "mail.verify_email"
CHANGED_KIND = "mail.email_changed"
PURPOSE = "verify-email"
OFF, OPTIONAL, REQUIRED = settings.VERIFICATION_OFF, settings.VERIFICATION_OPTIONAL, settings.VERIFICATION_REQUIRED

INVALID = N_("is invalid or has expired: ask for a new link")
MUST_VERIFY = N_("must be verified first")
VERIFY_FIRST = N_("Verify your email address first: follow the link we mailed you, or ask for a new one.")
TAKEN_MEANWHILE = N_("is used by another account now: your address was not changed")
TOO_MANY = N_("Too many links were mailed to you in the last hour: please try again later.")


class EmailNotVerified(PermissionDenied):
    """Writing refused until the address is verified (mode required)."""

    def __init__(self) -> None:
        super().__init__(VERIFY_FIRST, {"email": [MUST_VERIFY]})


@dataclass(frozen=True)
class Links:
    """How links are made: the app's secret key, their lifetime and number per hour, and
    where they point when SITE_URL is unset (the request's host)."""

    secret_key: str
    lifetime: int
    per_hour: int
    base_url: str | None = None

    @classmethod
    def of(cls, config: Mapping[str, Any], base_url: str | None = None) -> "Links":
        return cls(secret_key=config["SECRET_KEY"], lifetime=int(config["EMAIL_VERIFICATION_SECONDS"]),
                   per_hour=int(config["EMAIL_VERIFICATIONS_PER_HOUR"]), base_url=base_url)


def token_for(secret_key: str, verification_id: str) -> str:
    """The link's token for a row (the mail job writes the link with it)."""
    return link_tokens.token(secret_key, PURPOSE, verification_id)


async def mode(session: AsyncSession) -> int:
    return await settings.get(session, settings.EMAIL_VERIFICATION)


async def require_verified(session: AsyncSession, user: User) -> None:
    """EmailNotVerified when the mode is required and ``user`` has not verified their address."""
    if user.email_verified_at is None and await mode(session) == REQUIRED:
        raise EmailNotVerified()


async def _send(session: AsyncSession, user: User, email: str, links: Links, locale: str | None) -> bool:
    """A new link to ``email`` for ``user``, unless the hour's links are used up; True if queued."""
    now = utcnow()
    if links.per_hour > 0:
        recent = await session.scalar(select(func.count()).select_from(EmailVerification).where(
            EmailVerification.user_id == user.id, EmailVerification.created_at > now - timedelta(hours=1)))
        if (recent or 0) >= links.per_hour:
            return False
    row_id = secrets.token_hex(16)
    session.add(EmailVerification(
        id=row_id, user_id=user.id, email=email, created_at=now, expires_at=now + timedelta(seconds=links.lifetime),
        secret_hash=link_tokens.secret_hash(links.secret_key, PURPOSE, row_id)))
    await session.flush()
    await outbox.enqueue(session, MAIL_KIND, {"verification_id": row_id, "locale": locale or user.locale,
                                              "base_url": links.base_url})
    return True


async def registered(session: AsyncSession, user: User, links: Links, *, locale: str | None = None) -> bool:
    """A new account: its link is mailed unless the mode is off.  True if queued."""
    if await mode(session) == OFF:
        return False
    return await _send(session, user, user.email, links, locale)


async def pending_change(session: AsyncSession, user: User) -> str | None:
    """The new address a change of address waits for (its link unused and unexpired), or None."""
    return await session.scalar(
        select(EmailVerification.email).where(
            EmailVerification.user_id == user.id, EmailVerification.used_at.is_(None),
            EmailVerification.expires_at > utcnow(), EmailVerification.email != user.email)
        .order_by(EmailVerification.created_at.desc()).limit(1))


async def resend(session: AsyncSession, user: User, links: Links, *, change: bool = False,
                 locale: str | None = None) -> bool:
    """The link again: to the account's unverified address, or (``change``) to the new
    address of the pending change.  False when there is nothing to verify; ValidationFailed
    when the hour's links are used up."""
    address = await pending_change(session, user) if change else (
        user.email if user.email_verified_at is None else None)
    if address is None:
        return False
    if not await _send(session, user, address, links, locale):
        raise ValidationFailed.one("email", TOO_MANY)
    return True


async def _void_links(session: AsyncSession, user_id: int, *, keep_id: str | None = None,
                      other_than: str | None = None) -> None:
    """Mark the account's unused links used (they still count for the hourly limit)."""
    statement = update(EmailVerification).where(EmailVerification.user_id == user_id,
                                                EmailVerification.used_at.is_(None))
    if keep_id is not None:
        statement = statement.where(EmailVerification.id != keep_id)
    if other_than is not None:
        statement = statement.where(EmailVerification.email != other_than)
    await session.execute(statement.values(used_at=utcnow()).execution_options(synchronize_session=False))


async def _tell_old_address(session: AsyncSession, user: User, old_email: str, base_url: str | None) -> None:
    await outbox.enqueue(session, CHANGED_KIND, {"user_id": user.id, "old_email": old_email,
                                                 "new_email": user.email, "locale": user.locale,
                                                 "base_url": base_url})


async def change_email(session: AsyncSession, user: User, email: str | None, links: Links, *,
                       locale: str | None = None) -> str | None:
    """The account asks for another address.  Mode off: changed now ("changed"); else a
    link goes to the new address, the account keeps its old one and an earlier change's
    link is void ("pending").  The same address: None, nothing happens (a settings form
    saved with the address it shows leaves a pending change alone).  The old address is
    told when the change takes effect."""
    errors = Errors()
    address = users.check_email(errors, email)
    errors.raise_if_any()
    assert address is not None
    if address == user.email:
        return None
    if await users.email_taken(session, address, exclude_id=user.id):
        raise ValidationFailed.one("email", N_("has already been taken"))
    if await mode(session) == OFF:
        old = user.email
        await users.update_user(session, user, email=address)
        await _void_links(session, user.id)
        await _tell_old_address(session, user, old, links.base_url)
        return "changed"
    await _void_links(session, user.id, other_than=user.email)  # an earlier change's link
    if not await _send(session, user, address, links, locale):
        raise ValidationFailed.one("email", TOO_MANY)
    return "pending"


async def find(session: AsyncSession, token: str | None, *, secret_key: str,
               lock: bool = False) -> EmailVerification | None:
    """The unused, unexpired link this token opens, or None (forged, used, expired)."""
    return await link_tokens.open_row(session, EmailVerification, token, lock=lock)


@dataclass
class Verified:
    user: User
    changed_from: str | None  # the former address, when the link changed it


async def verify(session: AsyncSession, token: str | None, *, secret_key: str,
                 base_url: str | None = None) -> Verified:
    """Follow a link: the address is verified, and becomes the account's if it was a change
    (unless another account took it meanwhile: ValidationFailed on ``email``)."""
    row = await find(session, token, secret_key=secret_key, lock=True)
    user = row and await session.get(User, row.user_id, populate_existing=True)
    if row is None or user is None or user.disabled:
        raise ValidationFailed.one("token", INVALID)
    now = utcnow()
    await _void_links(session, user.id, keep_id=row.id)
    row.used_at = now
    old = user.email if row.email != user.email else None
    if old is not None and await users.email_taken(session, row.email, exclude_id=user.id):
        raise ValidationFailed.one("email", TAKEN_MEANWHILE)
    try:
        # One UPDATE in a savepoint: a concurrent taker's commit fails it on the unique key
        # and only it (the user object, which the page still shows, is untouched until then).
        async with session.begin_nested():
            await session.execute(update(User).where(User.id == user.id)
                                  .values(email=row.email, email_verified_at=now))
    except IntegrityError:
        raise ValidationFailed.one("email", TAKEN_MEANWHILE) from None
    set_committed_value(user, "email", row.email)
    set_committed_value(user, "email_verified_at", now)
    if old is not None:
        await _tell_old_address(session, user, old, base_url)
    return Verified(user=user, changed_from=old)
