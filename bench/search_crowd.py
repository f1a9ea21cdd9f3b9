#!/usr/bin/env python3
"""A crowd of searches for a word in nearly every post (issue 22, finding 4), against a
real ``hypercorn quartblog:app`` with 2 workers: with the search limits off (``before``:
``QUARTBLOG_SEARCH_CONCURRENCY=0``, ``QUARTBLOG_SEARCH_STATEMENT_TIMEOUT=0``, as before
they existed) and with the defaults (``after``).  docs/performance.md, "Search".

    python bench/search_crowd.py --db mariadb          # fresh qb_search_crowd, seeded
    python bench/search_crowd.py --db postgresql --reuse

Each mode first times 5 searches and 5 lists one at a time (the machine's own pace),
then sends ``--rounds`` rounds of ``--clients`` (32) concurrent ``GET /search?q=database``
(a word the seed puts in nearly every post) and, beside each round, ``--pages`` (8)
requests for the post list ``/api/articles`` (what other visitors ask for meanwhile);
bounded in requests, each request bounded by httpx's timeout.  Prints, per mode, p50/p99
and the statuses of the searches and of the other pages.  Response cache off (every
search reaches the database).  The database is kept (drop it by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench import stack  # noqa: E402

MODES = {
    "before": ["QUARTBLOG_SEARCH_CONCURRENCY=0", "QUARTBLOG_SEARCH_STATEMENT_TIMEOUT=0"],
    "after": [],  # the defaults: 2 searches per worker, 1 s wait, 5 s per statement
    "concurrency-4": ["QUARTBLOG_SEARCH_CONCURRENCY=4"],
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def _timed(client: httpx.AsyncClient, path: str) -> tuple[int | str, float]:
    started = time.perf_counter()
    try:
        status: int | str = (await client.get(path)).status_code
    except httpx.HTTPError as exc:  # a timeout: counted, not raised
        status = type(exc).__name__
    return status, (time.perf_counter() - started) * 1000


async def crowd(base_url: str, *, clients: int, pages: int, rounds: int, query: str, timeout: float) -> dict:
    # A new connection per request: a kept-alive one that hypercorn closes after its
    # keep-alive timeout (5 s) while the client reuses it would count as an error.
    limits = httpx.Limits(max_connections=clients + pages, max_keepalive_connections=0)
    searches: list[tuple[int | str, float]] = []
    others: list[tuple[int | str, float]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client:
        # alone first: one search, then one list, at a time (the machine's own pace)
        alone = {"search": [(await _timed(client, f"/search?q={query}"))[1] for _ in range(5)],
                 "list": [(await _timed(client, "/api/articles?limit=10"))[1] for _ in range(5)]}
        for _ in range(rounds):
            results = await asyncio.gather(*[_timed(client, f"/search?q={query}") for _ in range(clients)],
                                           *[_timed(client, "/api/articles?limit=10") for _ in range(pages)])
            searches += results[:clients]
            others += results[clients:]

    def summary(results):
        latencies = [ms for _, ms in results]
        return {"n": len(results), "p50": statistics.median(latencies), "p99": percentile(latencies, 0.99),
                "statuses": Counter(status for status, _ in results)}
    return {"searches": summary(searches), "others": summary(others),
            "alone": {k: statistics.median(v) for k, v in alone.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=stack.DATABASES, default="mariadb")
    parser.add_argument("--name", default="qb_search_crowd")
    parser.add_argument("--reuse", action="store_true", help="skip creating and seeding")
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--query", default="database")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--modes", default="before,after")
    args = parser.parse_args()

    db = stack.make_database(args.db, args.name)
    if not args.reuse:
        asyncio.run(stack.create_and_migrate(db, fresh=True))
        stack.log(f"seeding 1,000 users and {args.posts:,} posts")
        asyncio.run(stack.seed(db, {"n_users": 1000, "n_posts": args.posts, "n_comments": 0}))
    stack.RESULTS_DIR.mkdir(exist_ok=True)
    rows = []
    for mode in args.modes.split(","):
        server = stack.start_server(db, cache=False, workers=2, worker_class="asyncio", env=MODES[mode],
                                    log_path=stack.RESULTS_DIR / f"search-crowd-{args.db}-{mode}.log")
        try:
            stack.log(f"{mode}: {args.rounds} x ({args.clients} searches + {args.pages} lists)")
            result = asyncio.run(crowd(server.base_url, clients=args.clients, pages=args.pages,
                                       rounds=args.rounds, query=args.query, timeout=args.timeout))
        finally:
            stack.stop_server(server)
        rows.append((mode, result))
    print(f"\n{args.db}: hypercorn 2 workers, cache off, {args.rounds} rounds of {args.clients} x "
          f"/search?q={args.query} + {args.pages} x /api/articles\n")
    print("| limits | alone: search / list ms | search p50 ms | search p99 ms | search statuses "
          "| list p50 ms | list p99 ms | list statuses |")
    print("|---|---:|---:|---:|---|---:|---:|---|")
    for mode, r in rows:
        s, o = r["searches"], r["others"]

        def fmt(c: Counter) -> str:
            return ", ".join(f"{n} × {status}" for status, n in sorted(c.items(), key=lambda kv: str(kv[0])))
        print(f"| {mode} | {r['alone']['search']:,.0f} / {r['alone']['list']:,.0f} | {s['p50']:,.0f} | {s['p99']:,.0f} | {fmt(s['statuses'])} | "
              f"{o['p50']:,.0f} | {o['p99']:,.0f} | {fmt(o['statuses'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
