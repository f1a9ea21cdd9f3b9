"""The worker: ``quart --app quartblog worker``, or the web process itself (``JOBS_IN_WEB``).

Two ways to find work, one way to run it (runner.py):

* **The database** (no ``REDIS_URL``): the worker claims due rows of ``jobs`` itself,
  every ``JOB_POLL_SECONDS`` or at once when a request in this process committed one.
* **Redis, through saq** (``REDIS_URL`` set): every worker relays due rows of ``jobs``
  to a saq queue (one saq job per row and attempt, deduplicated by saq's key), and saq
  hands each to one of the workers on any host, which claims the row and runs it.
  The table stays the record: a job exists if and only if its change committed, and a
  job lost with its worker or with Redis is relayed again once its lease ends.

Either way each worker offers every periodic job's time slot (``handlers.PERIODIC``) as
a row with a unique key: one worker's insert wins, so the slot runs once in all.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timezone
from typing import Any

from quart import Quart
from sqlalchemy import select

from ..db import get_db
from ..models import Job
from ..services import outbox
from ..types import utcnow
from ..web.startup import EXTENSION_KEY as SCHEMA_GATE
from . import handlers
from .runner import _claimable, claim, execute, session_factory, worker_name

log = logging.getLogger("quartblog.jobs")
SAQ_FUNCTION = "quartblog_job"


class Worker:
    def __init__(self, app: Quart, *, owner: str | None = None, concurrency: int | None = None,
                 poll_seconds: float | None = None, schema_gate: bool = False) -> None:
        self.app = app
        # In the web process: no job runs before the app found the schema current (the
        # first request or /readyz checks it; AUTO_MIGRATE may be upgrading it).
        self.schema_gate = schema_gate
        self.owner = owner or worker_name()
        self.concurrency = max(1, int(concurrency or app.config.get("JOB_CONCURRENCY") or 4))
        self.poll_seconds = float(poll_seconds if poll_seconds is not None else app.config.get("JOB_POLL_SECONDS") or 1)
        self.redis_url = app.config.get("REDIS_URL")
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._running: set[asyncio.Task] = set()
        self._offered: dict[str, int] = {}
        self._queue: Any = None
        self._saq_worker: Any = None
        self._failing = False

    # --- being told ---------------------------------------------------------------------

    async def wake(self, ids: list[int]) -> None:
        """A request in this process committed jobs: look now (the outbox's listener)."""
        if self._queue is not None and ids:
            try:
                await self._relay(ids)
            except Exception:  # noqa: BLE001 - Redis down: the relay loop sends them later
                log.warning("could not hand jobs %s to the queue now; they will be relayed", ids, exc_info=True)
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # --- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        """Until ``stop()``: find due jobs (or relay them to saq) and offer periodic slots."""
        engine = get_db(self.app).engine
        outbox.listen(engine, self.wake)
        try:
            if self.redis_url:
                await self._start_saq()
            while not self._stop.is_set():
                try:
                    if not await self._schema_ready():
                        found = 0
                        await self._pause()
                        continue
                    await self._offer_periodic()
                    found = await (self._relay_due() if self._queue is not None else self._claim_and_start())
                    if self._failing:
                        log.info("jobs: the database answers again")
                    self._failing = False
                except Exception as exc:  # noqa: BLE001 - an outage: say it once, keep trying
                    found = 0
                    if not self._failing:
                        log.warning("jobs: cannot reach the queue (%s: %s); trying again", type(exc).__name__, exc)
                    self._failing = True
                if found and self._queue is None and len(self._running) < self.concurrency:
                    continue  # there may be more due right now
                await self._pause()
        finally:
            outbox.unlisten(engine, self.wake)
            await self._shutdown()

    async def _pause(self) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        except asyncio.TimeoutError:
            pass

    async def _schema_ready(self) -> bool:
        if not self.schema_gate:
            return True
        gate = self.app.extensions.get(SCHEMA_GATE)
        if gate is None or gate.checked:
            return True
        try:
            await gate.check(report=False)
        except Exception:  # noqa: BLE001 - not yet (outage, behind, being upgraded): the requests say why
            return False
        return gate.checked

    async def _claim_and_start(self) -> int:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        claimed = await claim(self.app, self.owner, limit=free)
        for job_id, attempt in claimed:
            task = asyncio.create_task(execute(self.app, job_id, attempt, self.owner))
            self._running.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        self._wake.set()

    async def _offer_periodic(self) -> None:
        now = utcnow().timestamp()
        for kind, every in handlers.PERIODIC.items():
            slot = int(math.floor(now / every))
            if self._offered.get(kind) == slot:
                continue
            start = datetime.fromtimestamp(slot * every, timezone.utc)
            async with session_factory(self.app)() as session:
                await outbox.enqueue(session, kind, {}, run_at=start, key=f"periodic:{kind}:{start.isoformat()}")
                await session.commit()
            self._offered[kind] = slot

    # --- saq ----------------------------------------------------------------------------

    async def _start_saq(self) -> None:
        from ..config import import_optional

        saq = import_optional("saq", "redis", "REDIS_URL")
        name = f"{self.app.config.get('CACHE_PREFIX') or 'quartblog:'}jobs"
        self._queue = saq.Queue.from_url(self.redis_url, name=name)
        await self._queue.connect()
        app, owner = self.app, self.owner

        async def quartblog_job(_ctx: dict, *, job_id: int) -> None:
            for claimed_id, attempt in await claim(app, owner, job_id=job_id):
                await execute(app, claimed_id, attempt, owner)

        self._saq_worker = saq.Worker(self._queue, functions=[(SAQ_FUNCTION, quartblog_job)],
                                      concurrency=self.concurrency)
        task = asyncio.create_task(self._saq_worker.start())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _relay_due(self) -> int:
        async with session_factory(self.app)() as session:
            rows = (await session.execute(
                select(Job.id).where(_claimable(utcnow())).order_by(Job.run_at, Job.id).limit(500))).all()
        if rows:
            await self._relay([row.id for row in rows])
        return 0  # saq runs them; the loop waits for its next look

    async def _relay(self, ids: list[int]) -> None:
        async with session_factory(self.app)() as session:
            rows = (await session.execute(select(Job.id, Job.attempts).where(Job.id.in_(ids)))).all()
        for job_id, attempts in rows:
            # One saq job per row and attempt: relayed again by every worker, enqueued once.
            await self._queue.enqueue(SAQ_FUNCTION, job_id=job_id, key=f"job-{job_id}-{attempts}",
                                      timeout=0, retries=1)

    async def _shutdown(self) -> None:
        if self._saq_worker is not None:
            await self._saq_worker.stop()
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._queue is not None:
            await self._queue.disconnect()
            self._queue = None
