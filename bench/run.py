#!/usr/bin/env python3
"""quartblog benchmark (issue 9): one command from empty databases to tables of figures.

    python bench/run.py                  # MariaDB then PostgreSQL; each cache off, then on
    python bench/run.py --quick          # small data set, short runs: a smoke test (~5 min)
    python bench/run.py --db postgresql --cache off --only healthz,home --soak

For each database: create it, migrate and seed it (1,000 users, 20,000 posts, 100,000 comments),
then for each cache setting start ``hypercorn quartblog:app`` (production settings,
X-SQL-Statements on), sign in (an API token, the site's log-in form), measure each endpoint with
wrk (bench/report.lua prints the figures as JSON), run the writing mix (httpx writers beside
wrk readers), optionally a memory soak; print a table with every figure as a share of /healthz,
the targets of issue 9 (PASS/MISS), and write bench/results/<timestamp>.json. docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench` and `quartblog`

from bench import load, stack  # noqa: E402
from bench.figures import (BY_NAME, ENDPOINT_NAMES, add_healthz_share, check_targets, format_checks,  # noqa: E402
                           format_table, format_writes, growth_pct, select_endpoints, split_choices)
from bench.stack import DATABASES, RESULTS_DIR, log  # noqa: E402

SIZES = {"users": 1000, "posts": 20_000, "comments": 100_000, "tags": 50, "follows": 10, "favorites": 20}
QUICK = {"users": 200, "posts": 2000, "comments": 10_000, "tags": 20, "duration": 3, "warmup": 1,
         "soak_requests": 10_000, "soak_chunk": 3}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python bench/run.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                description="Benchmark quartblog (issue 9). See docs/performance.md.")
    p.add_argument("--quick", action="store_true",
                   help="small data set and short runs: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    p.add_argument("--db", default="mariadb,postgresql", help="databases, one after the other: " + ",".join(DATABASES))
    p.add_argument("--cache", default="off,on", help="cache settings per database, in this order: off,on")
    g = p.add_argument_group("load")
    g.add_argument("--duration", type=float, default=20, help="seconds of measured load per endpoint")
    g.add_argument("--warmup", type=float, default=3, help="seconds of unmeasured load before each measurement")
    g.add_argument("--connections", "-c", type=int, default=32, help="wrk connections")
    g.add_argument("--threads", "-t", type=int, default=2, help="wrk threads")
    g.add_argument("--only", metavar="A,B", help="endpoints, comma-separated: " + ",".join(ENDPOINT_NAMES))
    g.add_argument("--writers", type=int, default=4, help="API users of the writing mix (0: no mix)")
    g.add_argument("--write-rate", type=float, default=20, help="writes per second of the mix, all writers together")
    g.add_argument("--mix-seconds", type=float, help="length of the writing mix (default: --duration)")
    g.add_argument("--soak", nargs="?", const="home", metavar="ENDPOINT", choices=ENDPOINT_NAMES,
                   help="with the cache off: a memory soak on ENDPOINT (default home)")
    g.add_argument("--soak-requests", type=int, default=100_000)
    g.add_argument("--soak-chunk", type=float, default=10, help="seconds per wrk run of the soak (RSS between)")
    g = p.add_argument_group("server and database")
    g.add_argument("--workers", type=int, default=1, help="hypercorn workers")
    g.add_argument("--worker-class", default="asyncio", choices=("asyncio", "uvloop", "trio"))
    g.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="server environment (repeatable)")
    g.add_argument("--driver", default="asyncmy", choices=("asyncmy", "aiomysql"), help="MariaDB driver")
    g.add_argument("--mysql-server", default="root@127.0.0.1:3306", metavar="USER[:PW]@HOST:PORT")
    g.add_argument("--postgres-server", default="postgres@127.0.0.1:5432", metavar="USER[:PW]@HOST:PORT")
    g.add_argument("--db-name", default="quartblog_bench", help="database name (on each server)")
    g.add_argument("--reuse-db", action="store_true", help="use the seeded databases --db-name as they are (kept)")
    g.add_argument("--keep-db", action="store_true", help="do not drop the databases at the end")
    g = p.add_argument_group("seed sizes")
    for name, default in SIZES.items():
        g.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--output", type=Path, help="JSON file (default: bench/results/<timestamp>.json)")
    args = p.parse_args(argv)
    if args.quick:  # only what was not given explicitly
        explicit = {a.split("=")[0].lstrip("-").replace("-", "_") for a in (argv if argv is not None else sys.argv[1:])}
        for key, value in QUICK.items():
            if key not in explicit:
                setattr(args, key, value)
    args.mix_seconds = args.mix_seconds or args.duration
    try:
        args.dbs = split_choices(args.db, DATABASES)
        args.caches = [c == "on" for c in split_choices(args.cache, ("off", "on"))]
        args.endpoints = select_endpoints(args.only)
    except ValueError as exc:
        p.error(str(exc))
    return args


def run_server(db: stack.BenchDatabase, cache: bool, targets: dict[str, Any], args: argparse.Namespace,
               stamp: str) -> dict[str, Any]:
    """One server run: every endpoint, the writing mix, the soak (cache off); figures and checks."""
    label = f"{db.kind}-cache-{'on' if cache else 'off'}"
    server = stack.start_server(db, cache=cache, workers=args.workers, worker_class=args.worker_class,
                                env=args.env, log_path=RESULTS_DIR / f"{stamp}-{label}-hypercorn.log")
    run: dict[str, Any] = {"database": db.backend, "cache": cache}
    try:
        creds = {"token": load.api_token(server.base_url, targets["email"]),
                 "cookie": load.site_cookie(server.base_url, targets["email"])}
        log(f"signed in as {targets['email']}: token {'ok' if creds['token'] else 'none'}, "
            f"site cookies {'ok' if creds['cookie'] else 'none'}")
        run["rss_start_kb"] = stack.workers_rss_kb(server)
        results = []
        for endpoint in args.endpoints:
            try:
                results.append(load.bench_endpoint(server, endpoint, targets, creds, args))
            except (RuntimeError, OSError, load.httpx.HTTPError, ValueError) as exc:
                log(f"{endpoint.name}: failed: {exc}")
                results.append({"name": endpoint.name, "error": str(exc)})
        healthz = add_healthz_share(results)
        run.update(results=results, rss_end_kb=stack.workers_rss_kb(server))
        tokens = [t for t in (load.api_token(server.base_url, e) for e in targets["writers"]) if t]
        if tokens:
            mix = run["mix"] = load.writing_mix(server, tokens, targets, args)
            for read in mix["reads"]:
                read["rss_after_kb"] = stack.workers_rss_kb(server)
            add_healthz_share([{"name": "healthz", "wrk": healthz}, *mix["reads"]] if healthz else [])
        if args.soak and not cache:
            run["soak"] = load.soak(server, BY_NAME[args.soak], targets, creds, args)
        run["checks"] = check_targets(results, cache=cache, soak=run.get("soak"))
    finally:
        stack.stop_server(server)
    return run


def print_run(run: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n== {run['database']}, cache {'ON' if run['cache'] else 'OFF'}: hypercorn {args.workers} worker(s) "
          f"({args.worker_class}), wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
          f"after {args.warmup:g}s warm-up")
    print(format_table(run["results"]))
    before, after = run.get("rss_start_kb") or 0, run.get("rss_end_kb") or 0
    print(f"worker RSS: {before / 1024:.1f} MB at start, {after / 1024:.1f} MB after the table "
          f"({growth_pct(before, after) or 0:+.1f}%)")
    if run.get("mix"):
        print(f"-- writing mix ({args.writers} API users, at most {args.write_rate:g} writes/s), reads meanwhile:")
        print(format_table(run["mix"]["reads"]) + "\n" + format_writes(run["mix"]["writes"]))
    if run.get("soak"):
        s = run["soak"]
        print(f"soak {s['endpoint']}: {s['requests']:,} requests, RSS {(s['rss_before_kb'] or 0) / 1024:.1f} -> "
              f"{(s['rss_after_kb'] or 0) / 1024:.1f} MB ({s['rss_growth_pct'] or 0:+.1f}%)")
    print(f"targets of issue 9 (cache {'on' if run['cache'] else 'off'}):")
    print(format_checks(run["checks"]))


def bench_database(kind: str, args: argparse.Namespace, stamp: str, report: dict[str, Any]) -> None:
    db = stack.make_database(kind, args.db_name, driver=args.driver, mysql_server=args.mysql_server,
                             postgres_server=args.postgres_server)
    entry: dict[str, Any] = report["databases"].setdefault(db.backend, {"runs": []})
    try:
        log(f"database {db.name} ({db.backend}): {'reuse' if args.reuse_db else 'create and migrate'}")
        asyncio.run(stack.create_and_migrate(db, fresh=not args.reuse_db))
        if not args.reuse_db:
            log(f"seeding {args.users:,} users, {args.posts:,} posts, {args.comments:,} comments ...")
            counts, seconds = asyncio.run(stack.seed(db, {f"n_{k}": getattr(args, k) for k in SIZES}))
            entry["seed"] = {"counts": counts, "seconds": seconds}
            log(f"seeded in {seconds:.1f} s")
        targets = asyncio.run(stack.pick_targets(db, args.writers))
        entry["targets"] = {k: v for k, v in targets.items() if k not in ("writers", "newest")}
        for cache in args.caches:
            entry["runs"].append(run_server(db, cache, targets, args, stamp))
            print_run(entry["runs"][-1], args)
    finally:
        if db.created and not args.keep_db:
            try:
                asyncio.run(stack.drop_database(db))
                log(f"database {db.name} ({db.kind}) dropped")
            except Exception as exc:  # noqa: BLE001 - report, do not hide the real error
                log(f"could not drop {db.name}: {exc}")


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C and SIGTERM unwind through the finally blocks: servers stopped, databases dropped.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: sudo apt-get install wrk")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    output = args.output or RESULTS_DIR / f"{stamp}.json"
    report: dict[str, Any] = {
        "timestamp": stamp, "command": " ".join(["python bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_before": os.getloadavg()},
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "endpoints"},
        "databases": {},
    }
    try:
        for kind in args.dbs:
            bench_database(kind, args, stamp, report)
        checks = [c for db in report["databases"].values() for run in db["runs"] for c in run["checks"]]
        print(f"\nall runs: {sum(c['ok'] for c in checks)}/{len(checks)} targets met "
              f"(load average before {report['machine']['loadavg_before'][0]:.1f}, now {os.getloadavg()[0]:.1f})")
        return 0
    finally:
        report["machine"]["loadavg_after"] = os.getloadavg()
        output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        log(f"results: {output}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("[bench] interrupted", file=sys.stderr)
        sys.exit(130)
