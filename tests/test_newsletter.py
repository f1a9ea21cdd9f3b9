"""A send to many subscribers survives its worker: a real ``quart --app quartblog worker``
process sending one post to 2,000 subscribers through a real SMTP server is SIGKILLed
once a few hundred messages arrived; another worker takes the dead one's batches when
their leases end and finishes, and every subscriber has the post exactly once (only a
message the server took in the instant before its delivery was recorded could come
again: at most one per batch running at the kill, quartblog/mail/delivery.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from quartblog.models import Job, JobState, MailDelivery, Subscriber
from quartblog.services import new_posts
from quartblog.types import utcnow

from .conftest import TEST_SECRET
from .factories import make_post, make_user

SUBSCRIBERS = 2000
CONCURRENCY = 4  # batches a worker sends at once: the most messages in flight at a kill



@pytest.fixture
def app_config(mailbox):
    return {"SMTP_URL": mailbox.url, "SITE_URL": "http://blog.test"}


async def start_worker(database_url: str, mailbox: Mailbox, lease: float) -> asyncio.subprocess.Process:
    env = {**os.environ, "QUARTBLOG_DATABASE_URL": database_url, "QUARTBLOG_SECRET_KEY": TEST_SECRET,
           "QUARTBLOG_SMTP_URL": mailbox.url, "QUARTBLOG_SITE_URL": "http://blog.test",
           "QUARTBLOG_JOB_LEASE_SECONDS": str(lease), "QUARTBLOG_JOB_POLL_SECONDS": "0.2",
           "QUARTBLOG_JOB_CONCURRENCY": str(CONCURRENCY), "QUARTBLOG_JOB_RETRY_SECONDS": "0"}
    env.pop("QUARTBLOG_REDIS_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quart", "--app", "quartblog", "worker",
        env=env, cwd=Path(__file__).resolve().parents[1],
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def all_sent(session) -> bool:
    await session.rollback()
    states = (await session.scalars(select(Job.state).where(Job.kind.in_([new_posts.KIND, new_posts.BATCH_KIND])))).all()
    return bool(states) and all(state == JobState.DONE for state in states)


async def test_a_worker_killed_in_the_middle_of_a_send_is_resumed_and_nobody_gets_it_twice(
        app, database_url, db_session, mailbox):
    now = utcnow()
    await db_session.execute(insert(Subscriber), [
        {"email": f"s{n}@example.com", "locale": None, "created_at": now, "confirmed_at": now}
        for n in range(SUBSCRIBERS)])
    await db_session.commit()
    await make_post(db_session, await make_user(db_session, "alice"), "To everyone")

    first = await start_worker(database_url, mailbox, lease=2)  # its claims end 2 s after it dies
    try:
        await mailbox.wait_for(300, timeout=120)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    at_kill = len(mailbox.messages)
    assert at_kill < SUBSCRIBERS, "the first worker finished before it could be killed"

    second = await start_worker(database_url, mailbox, lease=60)
    try:
        await mailbox.wait_for(SUBSCRIBERS, timeout=180)
        for _ in range(600):  # bounded: until the batches' rows say done
            if await all_sent(db_session):
                break
            await asyncio.sleep(0.1)
        assert await all_sent(db_session)
    finally:
        second.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, errors.decode()[-3000:]

    by_recipient = Counter(str(m["To"]) for m in mailbox.messages)
    assert set(by_recipient) == {f"s{n}@example.com" for n in range(SUBSCRIBERS)}  # everyone got it
    repeated = {to: n for to, n in by_recipient.items() if n > 1}
    by_id = Counter(str(m["Message-ID"]) for m in mailbox.messages)
    assert len(by_id) == SUBSCRIBERS  # one Message-ID per recipient: a repeat is the same message
    # The one window: a message the server took just before its delivery was recorded.
    assert len(repeated) <= CONCURRENCY and all(n == 2 for n in repeated.values()), repeated
    print(f"\n{at_kill} messages before the kill, {len(repeated)} sent twice: {sorted(repeated)}")
    assert await db_session.scalar(select(func.count()).select_from(MailDelivery)) == SUBSCRIBERS
