#!/usr/bin/env python3
"""One post mailed to 10,000 subscribers (docs/performance.md, "Mailing a post to subscribers").

    python bench/newsletter.py --db sqlite
    python bench/newsletter.py --db mariadb
    python bench/newsletter.py --db postgresql --subscribers 10000 --concurrency 4

Steps: a fresh database (a temporary SQLite file, or ``qb_newsletter_bench`` on MariaDB
through asyncmy or on PostgreSQL through asyncpg) migrated to head; ``--subscribers``
confirmed subscribers inserted in bulk; an author and one published post, written through
the service (so its ``mail.new_post`` job is queued as the site queues it); a local SMTP
server (aiosmtpd, in this process: it counts the messages, parses nothing); then one
``quart --app quartblog worker`` process (production settings, ``JOB_CONCURRENCY``
batches at once) is started and timed until every message has arrived and every job is
done.  Reports the time (from the worker's start, and from its first message), the rate,
and the worker's peak RSS (``VmHWM`` in /proc/<pid>/status, read before it is stopped).
The database is dropped at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.stack import BenchDatabase, create_and_migrate, drop_database, log, make_database  # noqa: E402

SECRET = "newsletter-bench-secret-key-0123456789abcdef"


class CountingSmtp:
    """aiosmtpd handler: counts what arrives (and the distinct recipients)."""

    def __init__(self) -> None:
        self.count = 0
        self.recipients: set[str] = set()
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.arrived = asyncio.Event()
        self.target = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        now = time.monotonic()
        self.first_at = self.first_at or now
        self.last_at = now
        self.count += 1
        self.recipients.update(envelope.rcpt_tos)
        if self.count >= self.target:
            self.arrived.set()
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


async def seed(url: str, subscribers: int) -> None:
    from sqlalchemy import insert

    from quartblog import create_app
    from quartblog.db import get_db
    from quartblog.models import Subscriber
    from quartblog.services import posts, users
    from quartblog.types import utcnow

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "ENV": "testing", "JOBS_IN_WEB": False,
                      "AUTO_MIGRATE": False, "CACHE_ENABLED": False})
    async with app.test_app():
        async with get_db(app).session() as session:
            now = utcnow()
            for start in range(0, subscribers, 5000):
                await session.execute(insert(Subscriber), [
                    {"email": f"reader{n}@example.com", "locale": "zh_Hans" if n % 5 == 0 else "en",
                     "created_at": now, "confirmed_at": now} for n in range(start, min(subscribers, start + 5000))])
            author = await users.register(session, username="author", email="author@example.com",
                                          password="a long enough password")
            await posts.create_post(session, author, title="A post for every subscriber",
                                    description="What this post is about, in two lines.",
                                    body="The body of the post.\n\n" * 20)
            await session.commit()
        await get_db(app).dispose()


async def jobs_done(url: str) -> bool:
    from sqlalchemy import func, select

    from quartblog.db import create_engine
    from quartblog.models import Job, JobState

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            left = await conn.scalar(select(func.count()).select_from(Job).where(
                Job.kind.like("mail.new_post%"), Job.state != JobState.DONE))
            return left == 0
    finally:
        await engine.dispose()


async def run(url: str, subscribers: int, concurrency: int) -> dict:
    from aiosmtpd.smtp import SMTP

    handler = CountingSmtp()
    handler.target = subscribers
    port = free_port()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="bench.test"), "127.0.0.1", port)
    env = {**os.environ, "QUARTBLOG_DATABASE_URL": url, "QUARTBLOG_SECRET_KEY": SECRET,
           "QUARTBLOG_ENV": "production", "QUARTBLOG_SITE_URL": "https://blog.example",
           "QUARTBLOG_SMTP_URL": f"smtp://127.0.0.1:{port}", "QUARTBLOG_JOB_CONCURRENCY": str(concurrency),
           "QUARTBLOG_JOB_POLL_SECONDS": "0.2", "QUARTBLOG_JOBS_IN_WEB": "0"}
    env.pop("QUARTBLOG_REDIS_URL", None)
    started = time.monotonic()
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quart", "--app", "quartblog", "worker", env=env, cwd=BENCH_DIR.parent,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        await asyncio.wait_for(handler.arrived.wait(), 1800)
        while not await jobs_done(url):  # the last batches' final UPDATE
            await asyncio.sleep(0.05)
        finished = time.monotonic()
        rss = peak_rss_kb(worker.pid)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = await worker.communicate()
        server.close()
        await server.wait_closed()
    if worker.returncode not in (0, -signal.SIGTERM):
        log(errors.decode()[-2000:])
    assert handler.count == subscribers == len(handler.recipients), (handler.count, len(handler.recipients))
    return {"messages": handler.count, "total": finished - started,
            "sending": (handler.last_at or finished) - (handler.first_at or started),
            "startup": (handler.first_at or started) - started, "rss_kb": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "mariadb", "postgresql"), default="sqlite")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4, help="JOB_CONCURRENCY of the worker")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    opts = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    if opts.db == "sqlite":
        db = BenchDatabase("sqlite", f"sqlite+aiosqlite:///{tmp.name}/newsletter.db", "newsletter.db", admin_url="")
    else:
        db = make_database(opts.db, "qb_newsletter_bench")
    try:
        if opts.db == "sqlite":
            from quartblog.db import create_engine
            from quartblog.migrations import upgrade

            async def migrate() -> None:
                engine = create_engine(db.url)
                try:
                    await upgrade(engine)
                finally:
                    await engine.dispose()
            asyncio.run(migrate())
        else:
            asyncio.run(create_and_migrate(db, fresh=True))
        log(f"{opts.db}: seeding {opts.subscribers} confirmed subscribers and one post")
        asyncio.run(seed(db.url, opts.subscribers))
        log("one worker sends the post")
        result = asyncio.run(run(db.url, opts.subscribers, opts.concurrency))
    finally:
        if opts.db != "sqlite" and not opts.keep:
            asyncio.run(drop_database(db))
        tmp.cleanup()
    rss = f"{result['rss_kb'] / 1024:.0f} MB" if result["rss_kb"] else "?"
    print("| database | subscribers | worker start to all sent | first to last message | messages/s | worker peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| {opts.db} | {result['messages']:,} | {result['total']:.1f} s | {result['sending']:.1f} s "
          f"| {result['messages'] / result['sending']:.0f} | {rss} |")


if __name__ == "__main__":
    main()
