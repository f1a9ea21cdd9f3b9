"""Subscriptions to new posts by mail, for readers with or without an account.

* **Double opt-in.**  ``subscribe`` keeps an unconfirmed row and queues a confirmation
  mail (``mail.subscription_confirm``); new posts go only to rows whose link was followed
  (``confirm``).  Asking again for an unconfirmed address sends the link again (at most one
  mail per address every ``RESEND_SECONDS``: the job's key holds the time slot); for an
  address already confirmed nothing is sent.  The answer is the same in every case, so
  the form tells nobody who subscribed.  A signed-in reader's own address, once verified
  (``users.email_verified_at``), is confirmed at once.
* **Links without rows**: the confirm and unsubscribe tokens are the subscriber's id and
  address signed with the app's secret key (``link_tokens.serializer``), so an old link
  cannot touch a later subscription of the same address.  Unsubscribing deletes the row;
  doing it again is no error.
* **The admin** lists (paged, searched by address), removes (an audit row) and exports
  (``export_pages``: keyset pages, each read in a short session of its own, so an export
  streams in constant memory).
* Mailing new posts: services/new_posts.py queues it, quartblog/jobs/newsletter.py sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator, Callable

from itsdangerous import BadData
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Subscriber, User
from ..types import utcnow
from . import audit, link_tokens, outbox, users
from .admin import LIMIT_MAX, _query, require_admin
from .errors import Errors, NotFound
from .paging import OFFSET_MAX, Page
from .upsert import insert_missing

CONFIRM_KIND = "mail.subscription_confirm"
CONFIRM_PURPOSE = "subscription-confirm"
UNSUBSCRIBE_PURPOSE = "unsubscribe"
RESEND_SECONDS = 600
EXPORT_PAGE = 1000
NONE, PENDING, CONFIRMED = "none", "pending", "confirmed"


# --- links ----------------------------------------------------------------------------

def _token(secret_key: str, purpose: str, subscriber_id: int, email: str) -> str:
    return str(link_tokens.serializer(secret_key, purpose).dumps([subscriber_id, email]))


def _read(secret_key: str, purpose: str, token: str | None) -> tuple[int, str] | None:
    """(id, address) of a genuine token, else None."""
    if not token or len(token) > 600:
        return None
    try:
        value = link_tokens.serializer(secret_key, purpose).loads(token)
    except BadData:
        return None
    if (not isinstance(value, list) or len(value) != 2 or not isinstance(value[0], int)
            or not isinstance(value[1], str)):
        return None
    return value[0], value[1]


def unsubscribe_link_valid(secret_key: str, token: str | None) -> bool:
    """Whether ``token`` is an unsubscribe link this site signed (its page shows a button)."""
    return _read(secret_key, UNSUBSCRIBE_PURPOSE, token) is not None


def confirm_token(secret_key: str, subscriber_id: int, email: str) -> str:
    return _token(secret_key, CONFIRM_PURPOSE, subscriber_id, email)


def unsubscribe_token(secret_key: str, subscriber_id: int, email: str) -> str:
    return _token(secret_key, UNSUBSCRIBE_PURPOSE, subscriber_id, email)


# --- readers --------------------------------------------------------------------------

async def subscribe(session: AsyncSession, email: str | None, *, locale: str | None, user: User | None = None,
                    base_url: str | None = None) -> bool:
    """Subscribe ``email`` (see the module).  True when it is confirmed now (a signed-in
    reader's verified address), False when a link is (or was) mailed; ValidationFailed
    for an address that cannot be one."""
    errors = Errors()
    address = users.check_email(errors, email)
    errors.raise_if_any()
    assert address is not None
    own = user is not None and user.email == address
    verified = own and user is not None and user.email_verified_at is not None
    now = utcnow()
    await insert_missing(session, Subscriber.__table__, [{
        "email": address, "user_id": user.id if own and user is not None else None, "locale": locale,
        "created_at": now, "confirmed_at": now if verified else None}], ["email"])
    subscriber = await session.scalar(select(Subscriber).where(Subscriber.email == address))
    assert subscriber is not None
    if subscriber.confirmed_at is not None:
        return verified  # confirmed before (or now): nothing to send
    if verified:  # asked for before from another browser: the verified account settles it
        subscriber.confirmed_at, subscriber.user_id = now, user.id  # type: ignore[union-attr]
        await session.flush()
        return True
    if locale and locale != subscriber.locale:  # the mails follow the language of the last request
        subscriber.locale = locale
        await session.flush()
    slot = int(now.timestamp() // RESEND_SECONDS)
    await outbox.enqueue(session, CONFIRM_KIND, {"subscriber_id": subscriber.id, "email": address,
                                                 "slot": slot, "base_url": base_url},
                         key=f"subscription-confirm:{subscriber.id}:{slot}")
    return False


async def confirm(session: AsyncSession, token: str | None, *, secret_key: str) -> Subscriber | None:
    """Confirm the subscription this link is for; None for a forged link or one whose
    subscription is gone (unsubscribed).  Following it again is no error."""
    found = _read(secret_key, CONFIRM_PURPOSE, token)
    if found is None:
        return None
    subscriber = await session.scalar(select(Subscriber).where(
        Subscriber.id == found[0], Subscriber.email == found[1]))
    if subscriber is not None and subscriber.confirmed_at is None:
        subscriber.confirmed_at = utcnow()
        await session.flush()
    return subscriber


async def unsubscribe(session: AsyncSession, token: str | None, *, secret_key: str) -> bool:
    """Delete the subscription this link is for; False for a forged link only (a second
    click, or a link of a subscription already gone, is no error)."""
    found = _read(secret_key, UNSUBSCRIBE_PURPOSE, token)
    if found is None:
        return False
    await session.execute(delete(Subscriber).where(Subscriber.id == found[0], Subscriber.email == found[1]))
    return True


def _of(user: User):
    return or_(Subscriber.user_id == user.id, Subscriber.email == user.email)


async def state_of(session: AsyncSession, user: User) -> str:
    """A signed-in reader's subscription: ``none``, ``pending`` (not confirmed) or
    ``confirmed`` (by their account or their account's address)."""
    rows = (await session.execute(select(Subscriber.confirmed_at).where(_of(user)))).all()
    if not rows:
        return NONE
    return CONFIRMED if any(row.confirmed_at is not None for row in rows) else PENDING


async def unsubscribe_user(session: AsyncSession, user: User) -> int:
    """A signed-in reader stops their subscription (from the subscribe page)."""
    result = await session.execute(delete(Subscriber).where(_of(user)))
    return result.rowcount or 0


# --- the admin ------------------------------------------------------------------------

@dataclass
class SubscriberItem:
    id: int
    email: str
    username: str | None
    locale: str | None
    created_at: datetime
    confirmed_at: datetime | None


async def list_subscribers(session: AsyncSession, *, q: str | None = None, limit: int = 50,
                           offset: int = 0) -> Page:
    """Newest first; ``q`` matches part of the address.  Two statements."""
    limit, offset = max(1, min(limit, LIMIT_MAX)), max(0, min(offset, OFFSET_MAX))
    condition = []
    if q and q.strip():
        condition = [Subscriber.email.contains(_query(q.strip().lower()), autoescape=True)]
    total = await session.scalar(select(func.count()).select_from(Subscriber).where(*condition))
    rows = (await session.execute(
        select(Subscriber.id, Subscriber.email, User.username, Subscriber.locale, Subscriber.created_at,
               Subscriber.confirmed_at)
        .outerjoin(User, User.id == Subscriber.user_id).where(*condition)
        .order_by(Subscriber.id.desc()).limit(limit).offset(offset))).all()
    return Page(items=[SubscriberItem(*row) for row in rows], total=int(total or 0), limit=limit, offset=offset)


async def remove(session: AsyncSession, actor: User, subscriber_id: int) -> str:
    """The admin removes a subscriber (an audit row); their address."""
    require_admin(actor)
    email = await session.scalar(select(Subscriber.email).where(Subscriber.id == subscriber_id))
    if email is None:
        raise NotFound("subscriber")
    await session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))
    await audit.record(session, actor, "subscriber.remove", email)
    return email


EXPORT_COLUMNS = ("email", "confirmed_at", "created_at", "locale", "username")


async def export_pages(sessions: Callable[[], Any], *, size: int = EXPORT_PAGE) -> AsyncIterator[list[tuple]]:
    """Every subscriber, in id order, ``size`` rows at a time (``EXPORT_COLUMNS``); each
    page is read in a session of its own from ``sessions()`` (a response streams after
    its request's session is gone)."""
    last = 0
    while True:
        async with sessions() as session:
            rows = (await session.execute(
                select(Subscriber.id, Subscriber.email, Subscriber.confirmed_at, Subscriber.created_at,
                       Subscriber.locale, User.username)
                .outerjoin(User, User.id == Subscriber.user_id).where(Subscriber.id > last)
                .order_by(Subscriber.id).limit(size))).all()
        if not rows:
            return
        yield [tuple(row[1:]) for row in rows]
        last = rows[-1].id


async def forget_unconfirmed(session: AsyncSession, before: datetime) -> int:
    """Unconfirmed subscriptions asked for before ``before``: their links were never followed."""
    result = await session.execute(delete(Subscriber).where(
        Subscriber.confirmed_at.is_(None), Subscriber.created_at < before))
    return result.rowcount or 0

