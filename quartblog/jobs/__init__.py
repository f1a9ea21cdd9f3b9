"""Background work: mail now, image processing and webhooks later.

* ``runner``    runs one job: claim with a lease, handler, done / retry with backoff / parked
* ``handlers``  what each kind of job does, and the periodic ones
* ``notifications``  mail about one's account and posts: verify an address, a new comment
* ``newsletter`` mail to subscribers: confirmation links, new posts (fanned out in batches)
* ``worker``    finds due jobs (the database, or Redis through saq) and runs them

Jobs are written by the services in the transaction of their change
(quartblog/services/outbox.py).  ``init_app`` runs a worker inside the web process when
``JOBS_IN_WEB`` is on (the default; turn it off when ``quart --app quartblog worker``
processes run them)."""

from __future__ import annotations

import asyncio

from quart import Quart

from . import handlers, newsletter, notifications  # noqa: F401 - register the kinds of jobs
from .runner import drain
from .worker import Worker

EXTENSION_KEY = "quartblog.jobs"

__all__ = ["EXTENSION_KEY", "Worker", "drain", "init_app"]


def init_app(app: Quart) -> None:
    if not app.config.get("JOBS_IN_WEB"):
        return

    @app.before_serving
    async def _start_worker() -> None:
        worker = Worker(app, schema_gate=True)
        app.extensions[EXTENSION_KEY] = (worker, asyncio.create_task(worker.run()))

    @app.after_serving
    async def _stop_worker() -> None:
        worker, task = app.extensions.pop(EXTENSION_KEY, (None, None))
        if worker is not None:
            worker.stop()
            await asyncio.gather(task, return_exceptions=True)
