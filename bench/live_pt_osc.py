"""A column added to ``posts`` through pt-online-schema-change, and a batched backfill
SIGKILLed and run again, under live traffic, at the reference size (issue 22).

    nice -n 19 python -m bench.live_pt_osc --db mariadb                     # 20,000 posts, 100,000 comments
    nice -n 19 python -m bench.live_pt_osc --db mariadb --driver aiomysql --posts 5000

For each database: a fresh database (dropped at the end unless --keep), migrated to the
project's head and seeded, then the scenario of ``tests/live_migration/osc_scenario.py``
(the test runs it on 300 posts).  Printed: per step its duration, requests, failures,
p50/p99/max latency; the acknowledged writes found; the posts written twice by the
backfill.  Exit status 1 on any failed request, lost write or post written twice.
The figures are in docs/migrations.md ("pt-online-schema-change").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from bench import stack
from bench.live_migration import SIZES


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.live_pt_osc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="mariadb", help="mariadb, postgresql (comma-separated)")
    parser.add_argument("--driver", default="asyncmy", help="MariaDB's driver: asyncmy or aiomysql")
    parser.add_argument("--posts", type=int, default=SIZES["n_posts"])
    parser.add_argument("--comments", type=int, default=SIZES["n_comments"])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--step-requests", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--kill-at-batch", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args(argv)


async def run_one(kind: str, args: argparse.Namespace) -> bool:
    from quartblog.db import create_engine
    from tests.live_migration.osc_scenario import deploy_pt_osc_under_load

    db = stack.make_database(kind, f"qb_live_pt_osc_{os.getpid()}", driver=args.driver)
    stack.log(f"{db.backend}: database {db.name}")
    await stack.create_and_migrate(db, fresh=True)
    try:
        sizes = {**SIZES, "n_posts": args.posts, "n_comments": args.comments}
        counts, seconds = await stack.seed(db, sizes)
        stack.log(f"seeded {counts} in {seconds:.0f} s")
        engine = create_engine(db.url)
        logs = Path(tempfile.mkdtemp(prefix=f"live-pt-osc-{kind}-"))
        began = time.monotonic()
        try:
            outcome = await deploy_pt_osc_under_load(
                db.url, engine, args.driver if kind == "mariadb" else "asyncpg", logs, clients=args.clients, rate=args.rate,
                step_requests=args.step_requests, held_writes=20, batch_size=args.batch_size,
                kill_at_batch=args.kill_at_batch)
        finally:
            await engine.dispose()
        print(outcome.report(f"\n{db.backend}: {args.posts} posts, {args.comments} comments, {args.clients} clients "
                             f"at {args.rate:g} requests/s, {time.monotonic() - began:.0f} s (logs in {logs})"),
              flush=True)
        print("\n".join(line for line in outcome.copy_log if " T" in line or "Copying" in line or "OK" in line),
              flush=True)
        for failure in outcome.failures[:10]:
            print(f"FAILED {failure}", flush=True)
        return (not outcome.failures and not outcome.client_errors and not outcome.server_problems
                and outcome.found == {"comments": len(set(outcome.acked.comments)),
                                      "favorites": len(outcome.acked.favorites), "posts": len(set(outcome.acked.posts))}
                and outcome.posts["written twice"] == 0)
    finally:
        if not args.keep:
            await stack.drop_database(db)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = [asyncio.run(run_one(kind.strip(), args)) for kind in args.db.split(",") if kind.strip()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
