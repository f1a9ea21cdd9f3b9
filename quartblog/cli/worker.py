"""``quart --app quartblog worker``: background jobs in a process of their own (see
quartblog/jobs/worker.py).  Run any number, on any number of hosts; under systemd see the
README ("Mail and background jobs")."""

from __future__ import annotations

import asyncio
import signal

import click
from quart import Quart


def run_worker(app: Quart, *, concurrency: int | None = None, burst: bool = False) -> None:
    from ..db import DatabaseUnavailable, get_db
    from ..jobs import Worker, drain
    from ..migrations import SchemaOutOfDate, ensure_schema_current

    async def main() -> None:
        db = get_db(app)
        try:
            await ensure_schema_current(app, db)
            if burst:
                ran = await drain(app, limit=concurrency or int(app.config.get("JOB_CONCURRENCY") or 4))
                click.echo(f"ran {ran} jobs")
                return
            worker = Worker(app, concurrency=concurrency)
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, worker.stop)
            click.echo(f"worker {worker.owner}: {worker.concurrency} jobs at once, "
                       + ("through Redis (saq)" if worker.redis_url else "from the database"))
            await worker.run()
        finally:
            await db.dispose()

    try:
        asyncio.run(main())
    except (SchemaOutOfDate, DatabaseUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
