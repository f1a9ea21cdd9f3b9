"""A post's publication, as the subscribers' mail sees it: the one function every path
that makes a post published calls (``announce``: ``posts.create_post``, ``update_post``
when the state or the time changes, ``set_status_many`` for the admin's bulk publish),
in the transaction of that change.

It queues one job ``mail.new_post`` to run at the publish time (a scheduled post's mail
goes out when its time comes, with no one at the keyboard), keyed by the post and that
time: saving the post again queues nothing more, and a new time (rescheduled, or
unpublished and published again) is a new job, while the job of the old time finds the
post no longer public at that time and does nothing.  The job (quartblog/jobs/newsletter.py)
fans out into keyed batches over ranges of subscriber ids; every message has a delivery
key per post and subscriber (``delivery_key``), so nobody gets the same post twice, even
when it is published again."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from . import outbox

KIND = "mail.new_post"
BATCH_KIND = "mail.new_post_batch"
BATCH_SIZE = 500  # subscribers per batch job: each batch is one SMTP connection


def publish_time(published_at: datetime) -> str:
    """The publication's time as it appears in keys and payloads (UTC, ISO 8601)."""
    if published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=timezone.utc)
    return published_at.astimezone(timezone.utc).isoformat()


def job_key(post_id: int, published_at: datetime | str) -> str:
    when = published_at if isinstance(published_at, str) else publish_time(published_at)
    return f"new-post:{post_id}:{when}"


def batch_key_prefix(post_id: int, published_at: str) -> str:
    return f"{job_key(post_id, published_at)}:from:"


def delivery_key(post_id: int, subscriber_id: int) -> str:
    """One message per post and subscriber, whatever the number of publications."""
    return f"post:{post_id}:subscriber:{subscriber_id}"


async def announce(session: AsyncSession, post_id: int, published_at: datetime | None) -> None:
    """The post ``post_id`` is published at ``published_at`` (now, past or future): its
    confirmed subscribers get it then, once (see the module)."""
    if published_at is None:
        return
    when = publish_time(published_at)
    payload: dict[str, Any] = {"post_id": post_id, "published_at": when}
    await outbox.enqueue(session, KIND, payload, run_at=published_at, key=job_key(post_id, when))
