"""Running one job, the same way whoever runs it (the database poller, a saq worker,
the web process): claim it with a lease, run its handler, then mark it done, or
failed with a later ``run_at`` (backoff), or parked after ``JOB_MAX_ATTEMPTS``.

A claim is one guarded UPDATE (``state`` pending, or running with an expired lease;
``run_at`` due): two workers never both hold a job, and a worker that died holding one
(SIGKILL, a lost host) loses it when its lease ends; the job then runs again and its
handler skips what was done (the mail deliveries)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

from quart import Quart
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import get_db, set_write_intent
from ..models import Job, JobState
from ..types import utcnow

log = logging.getLogger("quartblog.jobs")
ERROR_MAX = 2000
RETRY_MAX_SECONDS = 3600.0

Handler = Callable[["JobContext", dict[str, Any]], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``."""
    def register(function: Handler) -> Handler:
        HANDLERS[kind] = function
        return function
    return register


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


@dataclass
class JobContext:
    """What a handler gets: the app (inside its app context), sessions of its own, the job."""

    app: Quart
    job_id: int
    attempt: int
    owner: str
    sessions: async_sessionmaker[AsyncSession] = field(repr=False)

    async def extend_lease(self) -> bool:
        """A long job (a send to thousands) keeps its claim: call it every few hundred steps,
        well within ``JOB_LEASE_SECONDS``.  False when the claim is no longer this worker's
        (its lease ran out and another worker took the job): stop then."""
        async with self.sessions() as session:
            result = await session.execute(update(Job).where(Job.id == self.job_id, Job.locked_by == self.owner)
                                           .values(locked_until=utcnow() + _lease(self.app)))
            await session.commit()
        return bool(result.rowcount)


def session_factory(app: Quart) -> async_sessionmaker[AsyncSession]:
    db = get_db(app)
    db.engine  # noqa: B018 - created on first use
    assert db.sessionmaker is not None
    return db.sessionmaker


def _lease(app: Quart) -> timedelta:
    return timedelta(seconds=float(app.config.get("JOB_LEASE_SECONDS") or 120))


def _claimable(now: datetime):
    return (Job.run_at <= now) & or_(
        Job.state == JobState.PENDING,
        (Job.state == JobState.RUNNING) & (Job.locked_until < now))


async def claim(app: Quart, owner: str, *, limit: int = 1, job_id: int | None = None) -> list[tuple[int, int]]:
    """Claim due jobs (or the one ``job_id``) for ``owner``: [(id, attempt)]."""
    sessions = session_factory(app)
    now = utcnow()
    if job_id is None:  # an idle poll reads only (SQLite: no write lock every second)
        set_write_intent(False)
        async with sessions() as session:
            if await session.scalar(select(Job.id).where(_claimable(now)).limit(1)) is None:
                return []
    set_write_intent(True)  # SQLite: take the write lock at BEGIN; claimers queue there
    async with sessions() as session:
        candidates = select(Job.id, Job.attempts).where(_claimable(now)).order_by(Job.run_at, Job.id).limit(limit)
        if job_id is not None:
            candidates = candidates.where(Job.id == job_id)
        rows = (await session.execute(candidates.with_for_update(skip_locked=True))).all()
        claimed = []
        for found_id, attempts in rows:
            result = await session.execute(
                update(Job).where(Job.id == found_id, _claimable(now)).values(
                    state=JobState.RUNNING, attempts=Job.attempts + 1, locked_by=owner,
                    locked_until=now + _lease(app)))
            if result.rowcount:
                claimed.append((found_id, attempts + 1))
        await session.commit()
    return claimed


def retry_delay(app: Quart, attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: JOB_RETRY_SECONDS doubled each time, jittered."""
    base = float(app.config.get("JOB_RETRY_SECONDS") or 0)
    return min(RETRY_MAX_SECONDS, base * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)


async def execute(app: Quart, job_id: int, attempt: int, owner: str) -> bool:
    """Run a claimed job to its end; True when it succeeded."""
    sessions = session_factory(app)
    async with sessions() as session:
        job = await session.get(Job, job_id)
        kind, payload = (job.kind, job.payload) if job else (None, "{}")
    function = HANDLERS.get(kind or "")
    error: str | None = None
    if function is None:
        error = f"no handler for jobs of kind {kind!r}"
    else:
        context = JobContext(app=app, job_id=job_id, attempt=attempt, owner=owner, sessions=sessions)
        try:
            async with app.app_context():
                await function(context, json.loads(payload or "{}"))
        except asyncio.CancelledError:
            raise  # the worker is stopping: the lease runs out and someone runs it again
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job %s (%s), attempt %s, failed: %s", job_id, kind, attempt, error)
    await _finish(app, job_id, owner, attempt, error, permanent=function is None)
    return error is None


async def _finish(app: Quart, job_id: int, owner: str, attempt: int, error: str | None, *,
                  permanent: bool = False) -> None:
    set_write_intent(True)
    now = utcnow()
    if error is None:
        values: dict[str, Any] = {"state": JobState.DONE, "finished_at": now, "locked_until": None,
                                  "last_error": None}
    elif permanent or attempt >= int(app.config.get("JOB_MAX_ATTEMPTS") or 1):
        values = {"state": JobState.FAILED, "finished_at": now, "locked_until": None, "last_error": error[:ERROR_MAX]}
        log.error("job %s failed %s times and waits in the admin: %s", job_id, attempt, error)
    else:
        values = {"state": JobState.PENDING, "locked_until": None, "last_error": error[:ERROR_MAX],
                  "run_at": now + timedelta(seconds=retry_delay(app, attempt))}
    async with session_factory(app)() as session:
        await session.execute(update(Job).where(Job.id == job_id, Job.locked_by == owner).values(**values))
        await session.commit()


async def run_due(app: Quart, owner: str, *, limit: int = 10) -> int:
    """Claim and run up to ``limit`` due jobs, at once; how many ran."""
    claimed = await claim(app, owner, limit=limit)
    if claimed:
        await asyncio.gather(*(execute(app, job_id, attempt, owner) for job_id, attempt in claimed))
    return len(claimed)


async def drain(app: Quart, *, owner: str | None = None, limit: int = 10) -> int:
    """Run due jobs until none is left (tests, ``worker --burst``); how many ran."""
    owner = owner or worker_name()
    total = 0
    while True:
        ran = await run_due(app, owner, limit=limit)
        if not ran:
            return total
        total += ran
