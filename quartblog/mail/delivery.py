"""At most once per recipient and message: a delivery's key (``password-reset:<id>``,
``post:<id>:subscriber:<id>``) is written to ``mail_deliveries`` right after the SMTP
server took the message, and a job that runs again (killed half-way, retried after an
error) skips every key it finds there.  The one window left, a crash between the
server's "250 OK" and that write, sends again with the same ``Message-ID``."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..models import MailDelivery
from ..services.upsert import insert_missing
from ..types import utcnow
from .transport import Transport


async def delivered(session: AsyncSession, keys: list[str]) -> set[str]:
    """Which of these delivery keys were sent already."""
    from sqlalchemy import select

    if not keys:
        return set()
    return set(await session.scalars(select(MailDelivery.key).where(MailDelivery.key.in_(keys))))


async def record(session: AsyncSession, key: str, message: EmailMessage) -> None:
    await insert_missing(session, MailDelivery.__table__, [{
        "key": key, "recipient": str(message["To"])[:255], "message_id": str(message["Message-ID"])[:255],
        "sent_at": utcnow()}], ["key"])


async def send_once(sessions: async_sessionmaker[AsyncSession], transport: Transport, key: str,
                    build: Callable[[], Awaitable[EmailMessage]]) -> bool:
    """Send the message ``build()`` makes unless ``key`` was delivered; True if sent now."""
    async with sessions() as session:
        if await delivered(session, [key]):
            return False
    message = await build()
    await transport.send(message)
    async with sessions() as session:
        await record(session, key, message)
        await session.commit()
    return True
