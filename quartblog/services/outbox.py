"""Background jobs are written here, in the transaction of the change that causes them
(the transactional outbox): a rolled-back request queues nothing, and a job whose change
committed exists even if the process dies right after the commit.  ``quartblog/jobs/``
runs them; this module only writes rows and answers the admin's questions about them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import after_commit
from ..models import Job, JobState
from ..types import utcnow
from .upsert import insert_missing

# Told the new jobs' ids after their transaction commits, per database engine (the jobs
# layer registers one to start them at once instead of at its next look): ``listener(ids)``.
_listeners: dict[Any, list[Callable[[list[int]], Any]]] = {}


def listen(engine: Any, listener: Callable[[list[int]], Any]) -> None:
    """Call ``listener`` after each commit, on ``engine``, that queued jobs."""
    listeners = _listeners.setdefault(engine.sync_engine, [])
    if listener not in listeners:
        listeners.append(listener)


def unlisten(engine: Any, listener: Callable[[list[int]], Any]) -> None:
    listeners = _listeners.get(engine.sync_engine, [])
    if listener in listeners:
        listeners.remove(listener)
    if not listeners:
        _listeners.pop(engine.sync_engine, None)


async def enqueue(session: AsyncSession, kind: str, payload: dict[str, Any] | None = None, *,
                  run_at: datetime | None = None, key: str | None = None) -> None:
    """Queue a job of ``kind`` (a handler's name in quartblog/jobs/handlers.py) in the
    session's transaction.  With a ``key``, a job with the same key already queued (or
    done) makes this one a no-op: one job per post publication, per time slot."""
    row = {"kind": kind, "payload": json.dumps(payload or {}, separators=(",", ":")), "key": key,
           "state": JobState.PENDING.value, "run_at": run_at or utcnow(), "attempts": 0,
           "created_at": utcnow()}
    if key is not None:
        await insert_missing(session, Job.__table__, [row], ["key"])
        _notify_after_commit(session)
        return
    job = Job(**{**row, "state": JobState.PENDING})
    session.add(job)
    await session.flush()
    _notify_after_commit(session, job.id)


def _notify_after_commit(session: AsyncSession, job_id: int | None = None) -> None:
    info = session.sync_session.info
    pending = info.get("outbox_ids")
    if pending is None:
        pending = info["outbox_ids"] = []

        engine = session.bind.sync_engine if session.bind is not None else None

        async def notify() -> None:
            ids = list(info.pop("outbox_ids", []))
            for listener in list(_listeners.get(engine, [])):
                await listener(ids)

        after_commit(session, notify)
    if job_id is not None:
        pending.append(job_id)


async def counts(session: AsyncSession) -> dict[str, int]:
    """How many jobs are in each state."""
    rows = await session.execute(select(Job.state, func.count()).group_by(Job.state))
    found = {state.value if isinstance(state, JobState) else state: n for state, n in rows}
    return {state.value: found.get(state.value, 0) for state in JobState}


async def failed_jobs(session: AsyncSession, limit: int = 50) -> list[Job]:
    """Jobs out of attempts, newest first, with their last error (the admin's list)."""
    return list(await session.scalars(
        select(Job).where(Job.state == JobState.FAILED).order_by(Job.id.desc()).limit(limit)))


async def retry_failed(session: AsyncSession, job_id: int | None = None) -> int:
    """Put failed jobs (one, or all) back in the queue with fresh attempts."""
    statement = update(Job).where(Job.state == JobState.FAILED)
    if job_id is not None:
        statement = statement.where(Job.id == job_id)
    result = await session.execute(statement.values(
        state=JobState.PENDING, attempts=0, run_at=utcnow(), locked_until=None, locked_by=None))
    _notify_after_commit(session)
    return result.rowcount or 0
