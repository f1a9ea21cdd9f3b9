"""Post visits, counted without a database write in the request.

With ``VIEW_COUNT_FLUSH_SECONDS`` > 0 (the default) each worker adds visits up in
memory and a background task writes them every that many seconds, in one
transaction of ``view_count = view_count + n`` updates (correct with any number
of workers), and once more when the worker stops.  A post page then costs no
write and no commit, so it can be served from the response cache.  A crash loses
at most the last interval's visits.  With 0, every visit is written by its own
request (one UPDATE).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from quart import Quart, current_app
from sqlalchemy import bindparam, update

from ..db import get_db, get_session
from ..models import Post
from ..services import posts

log = logging.getLogger(__name__)
EXTENSION_KEY = "quartblog.web.visits"

_ADD_VISITS = (
    update(Post.__table__)
    .where(Post.__table__.c.slug == bindparam("visited_slug"))
    .values(view_count=Post.__table__.c.view_count + bindparam("visits"))
)


class VisitCounter:
    def __init__(self, app: Quart, interval: float) -> None:
        self.app = app
        self.interval = interval
        self.pending: Counter[str] = Counter()
        self._task: asyncio.Task | None = None

    def add(self, slug: str) -> None:
        self.pending[slug] += 1

    async def flush(self) -> int:
        """Write the visits counted so far; returns how many."""
        if not self.pending:
            return 0
        batch, self.pending = self.pending, Counter()
        # In slug order: workers flushing at once lock the same rows in the same order.
        rows = [{"visited_slug": slug, "visits": n} for slug, n in sorted(batch.items())]
        try:
            async with get_db(self.app).session() as session, session.begin():
                await session.execute(_ADD_VISITS, rows, execution_options={"synchronize_session": False})
        except Exception as exc:
            from .unit_of_work import is_retryable

            if is_retryable(exc):  # a deadlock with another writer (pt-osc's copy, say): no traceback
                log.warning("could not write %d post visits (%s); keeping them for the next try",
                            len(rows), getattr(exc, "orig", exc))
            elif get_db(self.app).note_failure(exc):  # an outage is logged once, not every flush
                pass
            else:
                log.exception("could not write %d post visits; keeping them for the next try", len(rows))
            self.pending.update(batch)
            return 0
        return sum(batch.values())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()


def init_app(app: Quart) -> None:
    interval = float(app.config["VIEW_COUNT_FLUSH_SECONDS"])
    if interval <= 0:
        return
    counter = VisitCounter(app, interval)
    app.extensions[EXTENSION_KEY] = counter
    app.before_serving(counter.start)
    app.after_serving(counter.stop)  # registered after the database's: runs before its dispose


async def record_visit(slug: str) -> None:
    """Count a visit of the post with this slug (buffered, or written now)."""
    counter: VisitCounter | None = current_app.extensions.get(EXTENSION_KEY)
    if counter is None:
        await posts.record_view(get_session(), slug)
    else:
        counter.add(slug)


def get_visit_counter(app: Quart) -> VisitCounter | None:
    return app.extensions.get(EXTENSION_KEY)
