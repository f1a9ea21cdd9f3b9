"""Background jobs as an owner relies on them: a job exists if and only if its change
committed, a mail server that is down loses nothing (retried, then parked for the admin,
then sent once when it is back), a worker that dies loses its claim and another finishes
the job without sending anything twice, periodic work runs once however many workers
offer it, and the same holds with the jobs going through Redis (saq).  Against a real
SMTP server (tests/mailbox.py) and, for saq, the machine's real Redis."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from quartblog import create_app
from quartblog.db import get_db, set_write_intent
from quartblog.jobs import Worker, drain, handlers
from quartblog.jobs.runner import claim
from quartblog.models import Job, JobState, MailDelivery, PasswordReset, SignIn
from quartblog.services import outbox, password_resets
from quartblog.types import utcnow

from .conftest import TEST_SECRET, clear_tables, make_config
from .factories import make_user
from .mailbox import text_of

REDIS_URL = os.environ.get("QUARTBLOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")



@pytest.fixture
def app_config(mailbox):
    return {"SMTP_URL": mailbox.url, "SITE_URL": "http://blog.test", "JOB_MAX_ATTEMPTS": 3}


async def ask_for_reset(app, email: str = "alice@example.com") -> None:
    set_write_intent(True)  # as a POST does: SQLite takes the write lock at BEGIN, beside the workers
    async with get_db(app).session() as session:
        await password_resets.request_reset(session, email, secret_key=TEST_SECRET, lifetime=3600, per_hour=10)
        await session.commit()


async def jobs(session) -> list[Job]:
    await session.rollback()  # a new transaction: what the workers committed since
    session.expire_all()  # (a rollback outside a transaction expires nothing)
    return list(await session.scalars(select(Job).where(~Job.key.startswith("periodic:") | Job.key.is_(None))
                                      .order_by(Job.id)))


async def test_a_mail_server_that_is_down_loses_nothing(app, db_session, mailbox):
    await make_user(db_session, "alice")
    await mailbox.stop()
    await ask_for_reset(app)
    await drain(app)  # JOB_RETRY_SECONDS is 0 in tests: three attempts at once, then parked
    [job] = await jobs(db_session)
    assert job.state == JobState.FAILED and job.attempts == 3
    assert "Connect" in job.last_error or "refused" in job.last_error.lower()
    assert [j.id for j in await outbox.failed_jobs(db_session)] == [job.id]
    assert mailbox.messages == []

    await mailbox.start()  # back: the admin retries what waited
    assert await outbox.retry_failed(db_session) == 1
    await db_session.commit()
    assert await drain(app) == 1
    [message] = await mailbox.wait_for(1)
    assert message["To"] == "alice@example.com"
    [job] = await jobs(db_session)
    assert job.state == JobState.DONE and job.last_error is None
    assert await drain(app) == 0 and len(mailbox.messages) == 1


async def test_a_failed_attempt_waits_longer_each_time(app, app_config, db_session, mailbox):
    app.config["JOB_RETRY_SECONDS"] = 60
    await make_user(db_session, "alice")
    await mailbox.stop()
    await ask_for_reset(app)
    before = utcnow()
    await drain(app)
    [job] = await jobs(db_session)
    assert job.state == JobState.PENDING and job.attempts == 1 and job.last_error
    assert timedelta(seconds=45) < job.run_at - before < timedelta(seconds=75)
    await mailbox.start()
    await db_session.execute(update(Job).where(Job.id == job.id).values(run_at=utcnow()))  # the minute passed
    await db_session.commit()
    await drain(app)
    await mailbox.wait_for(1)
    [job] = await jobs(db_session)
    assert job.state == JobState.DONE and job.attempts == 2


async def test_a_dead_workers_job_is_finished_by_another_without_sending_twice(app, db_session, mailbox):
    await make_user(db_session, "alice")
    await ask_for_reset(app)
    # worker A claims the job, sends the mail, and dies before marking the job done
    [(job_id, attempt)] = await claim(app, "worker-a")
    reset = await db_session.scalar(select(PasswordReset))
    db_session.add(MailDelivery(key=f"password-reset:{reset.id}", recipient="alice@example.com",
                                message_id="<sent-by-a@blog.test>"))
    await db_session.commit()
    assert await drain(app, owner="worker-b") == 0  # A's lease still holds
    await db_session.execute(update(Job).where(Job.id == job_id).values(locked_until=utcnow() - timedelta(seconds=1)))
    await db_session.commit()
    assert await drain(app, owner="worker-b") == 1  # the lease ended: B runs it
    [job] = await jobs(db_session)
    assert job.state == JobState.DONE and job.attempts == 2 and job.locked_by == "worker-b"
    assert mailbox.messages == []  # A had delivered it: nobody gets it twice


async def test_a_worker_wakes_when_a_request_commits_a_job(app, client, db_session, mailbox):
    await make_user(db_session, "alice")
    worker = Worker(app, poll_seconds=3600)  # it would not look again for an hour
    task = asyncio.create_task(worker.run())
    try:
        response = await client.post("/api/users/login", json={"user": {"email": "x@example.com", "password": "p"}})
        assert response.status_code in (401, 422)  # a request that queues nothing
        from .site.conftest import Browser

        await Browser(client).post("/forgot-password", {"email": "alice@example.com"})
        [message] = await mailbox.wait_for(1)
        assert "/reset-password/" in text_of(message)
    finally:
        worker.stop()
        await task


async def test_periodic_work_runs_once_however_many_workers_offer_it(app, db_session):
    alice = await make_user(db_session, "alice")
    old = utcnow() - timedelta(days=400)
    db_session.add_all([
        SignIn(id="a" * 32, secret_hash="x" * 64, user_id=alice.id, created_at=old),
        SignIn(id="b" * 32, secret_hash="y" * 64, user_id=alice.id, created_at=utcnow()),
        PasswordReset(id="c" * 32, secret_hash="z" * 64, user_id=alice.id, created_at=old, expires_at=old),
    ])
    await db_session.commit()
    workers = [Worker(app, owner=f"w{i}") for i in range(3)]
    await asyncio.gather(*(w._offer_periodic() for w in workers))
    await asyncio.gather(*(w._offer_periodic() for w in workers))
    rows = (await db_session.execute(select(Job.key, Job.state).where(Job.kind == handlers.CLEANUP))).all()
    assert len(rows) == 1 and rows[0].key.startswith("periodic:maintenance.cleanup:")
    assert await drain(app) == 1
    await db_session.rollback()
    assert await db_session.scalar(select(func.count()).select_from(SignIn)) == 1
    assert await db_session.scalar(select(func.count()).select_from(PasswordReset)) == 0


async def test_without_smtp_development_writes_eml_files_and_production_parks_the_job(database_url, tmp_path):
    app = create_app(make_config(database_url))
    app.instance_path = str(tmp_path)
    async with app.test_app():
        async with get_db(app).session() as session:
            await make_user(session, "alice")
        await ask_for_reset(app)
        assert await drain(app) == 1
        [eml] = list((tmp_path / "mail").glob("*.eml"))
        assert b"To: alice@example.com" in eml.read_bytes()
        await clear_tables(get_db(app).engine)
    production = create_app(make_config(database_url, ENV="production", SITE_URL="https://blog.test",
                                        SECRET_KEY="p" * 40, JOB_MAX_ATTEMPTS=1))
    async with production.test_app():
        async with get_db(production).session() as session:
            await make_user(session, "alice")
        await ask_for_reset(production)
        await drain(production)
        async with get_db(production).session() as session:
            [job] = await outbox.failed_jobs(session)
            assert "QUARTBLOG_SMTP_URL" in job.last_error
        await clear_tables(get_db(production).engine)


async def test_jobs_through_redis_run_once_across_workers(database_url, mailbox):
    pytest.importorskip("saq")
    prefix = f"qbtest-{uuid.uuid4().hex[:8]}:"
    app = create_app(make_config(database_url, SMTP_URL=mailbox.url, SITE_URL="http://blog.test",
                                 REDIS_URL=REDIS_URL, CACHE_PREFIX=prefix))
    try:
        async with app.test_app():
            async with get_db(app).session() as session:
                for name in ("alice", "bob", "carol", "dave", "erin"):
                    await make_user(session, name)
            workers = [Worker(app, owner=f"saq-{i}", poll_seconds=0.2) for i in range(2)]
            tasks = [asyncio.create_task(w.run()) for w in workers]
            try:
                for name in ("alice", "bob", "carol", "dave", "erin"):
                    await ask_for_reset(app, f"{name}@example.com")
                await mailbox.wait_for(5)
                async with get_db(app).session() as session:
                    async def settled() -> bool:
                        await session.rollback()
                        session.expire_all()
                        states = (await session.scalars(select(Job.state).where(Job.kind != handlers.CLEANUP))).all()
                        return all(state == JobState.DONE for state in states)
                    for _ in range(200):
                        if await settled():
                            break
                        await asyncio.sleep(0.05)  # bounded wait for the workers' final UPDATE
                    assert await settled()
            finally:
                for w in workers:
                    w.stop()
                await asyncio.gather(*tasks)
            assert sorted(str(m["To"]) for m in mailbox.messages) == sorted(
                f"{n}@example.com" for n in ("alice", "bob", "carol", "dave", "erin"))
            await clear_tables(get_db(app).engine)
    finally:
        import redis.asyncio as aioredis

        client = aioredis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(f"*{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_the_worker_command_runs_the_due_jobs(app, database_url, db_session, mailbox, tmp_path):
    await make_user(db_session, "alice")
    await ask_for_reset(app)
    env = {**os.environ, "QUARTBLOG_DATABASE_URL": database_url, "QUARTBLOG_SECRET_KEY": TEST_SECRET,
           "QUARTBLOG_SMTP_URL": mailbox.url, "QUARTBLOG_SITE_URL": "http://blog.test"}
    env.pop("QUARTBLOG_REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quart", "--app", "quartblog", "worker", "--burst",
        env=env, cwd=Path(__file__).resolve().parents[1],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()
    assert "ran 1 jobs" in output.decode()
    [message] = await mailbox.wait_for(1)
    assert message["To"] == "alice@example.com"
