#!/usr/bin/env python3
"""A batched data migration over one million posts (docs/migrations.md, "Data migrations in batches").

    nice -n 19 python bench/migrate.py --db mariadb
    nice -n 19 python bench/migrate.py --db postgresql
    nice -n 19 python bench/migrate.py --db mariadb --posts 100000 --mode sql --keep

Steps, each timed:
1. a fresh database ``qb_migrate_bench`` (MariaDB through asyncmy, PostgreSQL through
   asyncpg) migrated to head;
2. one user and ``--posts`` posts seeded in bulk by the database itself
   (``INSERT ... SELECT`` from MariaDB's ``seq_1_to_N`` / PostgreSQL's
   ``generate_series``, 100,000 rows a statement; bodies of 1 to 100 words);
3. the test-only expand revision ``demo_001`` (``posts.reading_minutes`` NULL,
   ``posts.backfill_runs`` 0: tests/demo_revisions);
4. **run 1**: ``alembic upgrade demo_002``, the batched backfill, from start to end;
5. ``alembic downgrade demo_001`` (its batched undo: every row back to NULL / 0);
6. **run 2**: the same upgrade, killed with SIGKILL once its progress line says half
   the rows are done; **run 3**: the same command again, which finishes the rest.
After runs 1 and 3: every row filled and written exactly once (``backfill_runs = 1``).

Each ``alembic`` is a child process (``nice -n 19``); its peak RSS is read from
``wait4`` (the kernel's maxrss of that process).  The database is dropped at the end
(``--keep`` keeps it).  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench import stack  # noqa: E402
from tests.demo_revisions import write_demo_ini  # noqa: E402

ALEMBIC = Path(sys.executable).parent / "alembic"
CHUNK = 100_000
PROGRESS = re.compile(r": (\d+)/(\d+) rows")


async def seed_posts(url: str, kind: str, count: int) -> float:
    from sqlalchemy import text

    from quartblog.db import create_engine

    engine = create_engine(url, statement_timeout=0)
    started = time.perf_counter()
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO users (id, username, email, password_hash, role, created_at, disabled) "
                "VALUES (1, 'bench', 'bench@example.com', 'x', 'author', :t, false)"),
                {"t": datetime(2026, 1, 1, tzinfo=timezone.utc)})
        for start in range(1, count + 1, CHUNK):
            end = min(count, start + CHUNK - 1)
            if kind == "mariadb":
                source = f"seq_{start}_to_{end}"
                n, body = "seq", "REPEAT('word ', 1 + seq % 100)"
            else:
                source = f"generate_series({start}, {end}) AS s(n)"
                n, body = "n", "repeat('word ', 1 + n % 100)"
            async with engine.begin() as conn:
                await conn.execute(text(
                    "INSERT INTO posts (id, slug, title, description, body, created_at, updated_at, author_id, "
                    "view_count, status, published_at) "
                    f"SELECT {n}, CONCAT('post-', {n}), CONCAT('Post ', {n}), '', {body}, "
                    "TIMESTAMP '2026-01-01 00:00:00', TIMESTAMP '2026-01-01 00:00:00', 1, 0, 'published', "
                    f"TIMESTAMP '2026-01-01 00:00:00' FROM {source}"))
            stack.log(f"seeded {end} posts")
        if kind == "postgresql":
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE posts"))
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def check(url: str) -> dict[str, int]:
    from sqlalchemy import text

    from quartblog.db import create_engine

    engine = create_engine(url, statement_timeout=0)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(
                "SELECT COUNT(*) AS posts, "
                "SUM(CASE WHEN reading_minutes IS NULL THEN 1 ELSE 0 END) AS missing, "
                "SUM(CASE WHEN backfill_runs > 1 THEN 1 ELSE 0 END) AS twice, "
                "SUM(CASE WHEN backfill_runs = 1 THEN 1 ELSE 0 END) AS once FROM posts"))).one()
        return {k: int(v or 0) for k, v in row._mapping.items()}
    finally:
        await engine.dispose()


def alembic(ini: Path, env: dict[str, str], *args: str, kill_at: float | None = None) -> dict:
    """Run ``alembic`` niced; returns wall time, peak RSS (MB), exit status, last progress."""
    started = time.perf_counter()
    child = subprocess.Popen(["nice", "-n", "19", str(ALEMBIC), "-c", str(ini), *args], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    last, killed, lines = "", False, []
    assert child.stdout is not None
    for line in child.stdout:
        line = line.rstrip()
        lines.append(line)
        del lines[:-30]
        if "rows" in line or "Running" in line:
            print(f"    {line}", flush=True)
        match = PROGRESS.search(line)
        if match:
            last = line
            done, total = int(match[1]), int(match[2])
            if kill_at is not None and not killed and total and done >= kill_at * total:
                os.kill(child.pid, signal.SIGKILL)  # alembic itself: `nice` exec()s it
                killed = True
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": time.perf_counter() - started, "rss_mb": usage.ru_maxrss / 1024,
            "status": child.returncode, "killed": killed, "last": last, "output": lines}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=stack.DATABASES, default="mariadb")
    parser.add_argument("--name", default="qb_migrate_bench")
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--mode", choices=("python", "sql"), default="python",
                        help="python: rows read and computed in Python (executemany); sql: one UPDATE per batch")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()

    db = stack.make_database(args.db, args.name)
    env = {**os.environ, "QUARTBLOG_DATABASE_URL": db.url, "DEMO_BATCH_SIZE": str(args.batch_size),
           "DEMO_BATCH_MODE": args.mode, "DEMO_REPORT_EVERY": "1", "PYTHONUNBUFFERED": "1"}
    rows = []
    try:
        stack.log(f"{db.backend}: fresh database {db.name}, upgrade head")
        asyncio.run(stack.create_and_migrate(db, fresh=True))
        stack.log(f"seeding {args.posts} posts in bulk")
        seconds = asyncio.run(seed_posts(db.url, db.kind, args.posts))
        rows.append(("seed (INSERT ... SELECT)", seconds, None, ""))
        with tempfile.TemporaryDirectory() as tmp:
            ini = write_demo_ini(Path(tmp) / "alembic.ini", db.url)
            steps = [("demo_001 (expand: two columns)", ("upgrade", "demo_001"), None),
                     ("run 1: demo_002 backfill, whole", ("upgrade", "demo_002"), None),
                     ("demo_002 downgrade (batched undo)", ("downgrade", "demo_001"), None),
                     ("run 2: demo_002, SIGKILL half-way", ("upgrade", "demo_002"), 0.5),
                     ("run 3: the same command again", ("upgrade", "demo_002"), None)]
            for label, command, kill_at in steps:
                stack.log(f"{label}: alembic {' '.join(command)}")
                result = alembic(ini, env, *command, kill_at=kill_at)
                expected = -9 if kill_at else 0
                if result["status"] != expected:
                    print("\n".join(result["output"]), file=sys.stderr)
                    raise SystemExit(f"alembic {' '.join(command)} exited with {result['status']}")
                note = result["last"].split(": ", 1)[-1]
                if label.startswith("run"):
                    counts = asyncio.run(check(db.url))
                    note += (f"; after it: {counts['posts'] - counts['missing']} filled, "
                             f"{counts['missing']} to do, {counts['twice']} written twice")
                    if not kill_at and (counts["missing"] or counts["twice"] or counts["once"] != counts["posts"]):
                        raise SystemExit(f"wrong result after {label}: {counts}")
                rows.append((label, result["seconds"], result["rss_mb"], note))
    finally:
        if db.created and not args.keep:
            asyncio.run(stack.drop_database(db))
            stack.log(f"dropped {db.name}")
    print(f"\n{db.backend}, {args.posts} posts, {args.mode} mode, batches of {args.batch_size}\n")
    print("| step | seconds | peak RSS MB | last progress line / result |")
    print("|---|---:|---:|---|")
    for label, seconds, rss, note in rows:
        print(f"| {label} | {seconds:.1f} | {'' if rss is None else f'{rss:.0f}'} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
