"""A deployment under live traffic at the reference size (issue 12, "Under load").

    nice -n 19 python -m bench.live_migration --db mariadb,postgresql            # 20,000 posts, 100,000 comments
    nice -n 19 python -m bench.live_migration --db postgresql --posts 2000 --comments 10000

For each database: a fresh database (dropped at the end unless --keep), migrated to the
project's head and seeded (``quartblog.cli.seed``), then the scenario of
``tests/live_migration/scenario.py``: the old release serves (hypercorn, 2 workers)
under a bounded load of site and API reads and writes; ``alembic upgrade`` runs the
EXPAND revisions (a new column, its batched backfill, an index built online); the new
release starts on the same socket and takes over; ``alembic upgrade`` runs the CONTRACT
revision; then the way back (contract down, the old release takes back over, expand
down).  Printed: per step its duration, requests, failures, p50/p99/max latency; the
acknowledged writes found in the database.  Exit status 1 on any failed request, lost
write or wrong value.  The figures are in docs/migrations.md ("Deploying under load").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from bench import stack

SIZES = {"n_users": 200, "n_posts": 20_000, "n_comments": 100_000, "n_tags": 100, "n_follows": 10, "n_favorites": 20}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.live_migration", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="mariadb,postgresql", help="mariadb, postgresql (comma-separated)")
    parser.add_argument("--driver", default="asyncmy", help="MariaDB's driver: asyncmy or aiomysql")
    parser.add_argument("--posts", type=int, default=SIZES["n_posts"])
    parser.add_argument("--comments", type=int, default=SIZES["n_comments"])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second, all clients (default 40)")
    parser.add_argument("--step-requests", type=int, default=300,
                        help="each step lasts at least this many requests (default 300)")
    parser.add_argument("--no-downgrade", action="store_true", help="stop after the contract step")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--json", type=Path, help="write the figures here")
    return parser.parse_args(argv)


async def run_one(kind: str, args: argparse.Namespace) -> dict:
    from quartblog.db import create_engine
    from tests.live_migration.scenario import deploy_under_load

    db = stack.make_database(kind, f"qb_live_migration_{os.getpid()}", driver=args.driver)
    stack.log(f"{db.backend}: database {db.name}")
    await stack.create_and_migrate(db, fresh=True)
    try:
        sizes = {**SIZES, "n_posts": args.posts, "n_comments": args.comments}
        counts, seconds = await stack.seed(db, sizes)
        stack.log(f"seeded {counts} in {seconds:.0f} s")
        engine = create_engine(db.url)
        logs = Path(tempfile.mkdtemp(prefix=f"live-migration-{kind}-"))
        try:
            outcome = await deploy_under_load(db.url, engine, logs, clients=args.clients, rate=args.rate,
                                              step_requests=args.step_requests, downgrade=not args.no_downgrade)
        finally:
            await engine.dispose()
        print(outcome.report(f"\n{db.backend}: {args.posts} posts, {args.comments} comments, "
                             f"{args.clients} clients at {args.rate:g} requests/s (logs in {logs})"), flush=True)
        print("migration: " + "\n           ".join(outcome.migration_log), flush=True)
        ok = (not outcome.failures and not outcome.client_errors and not outcome.server_problems
              and outcome.found == {"comments": len(set(outcome.acked.comments)),
                                    "favorites": len(outcome.acked.favorites), "posts": len(set(outcome.acked.posts))}
              and not any(outcome.column_checks.values()))
        for failure in outcome.failures[:10]:
            print(f"FAILED {failure}", flush=True)
        return {"backend": db.backend, "ok": ok, "sizes": sizes, "steps": [asdict(f) for f in outcome.figures],
                "found": outcome.found, "column_checks": outcome.column_checks,
                "acknowledged": {"comments": len(outcome.acked.comments), "favorites": len(outcome.acked.favorites),
                                 "posts": len(outcome.acked.posts)}}
    finally:
        if not args.keep:
            await stack.drop_database(db)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        if kind not in stack.DATABASES:
            raise SystemExit(f"unknown --db {kind!r}: {', '.join(stack.DATABASES)}")
        results.append(asyncio.run(run_one(kind, args)))
    if args.json:
        args.json.write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": results}, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
