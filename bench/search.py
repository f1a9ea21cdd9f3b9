#!/usr/bin/env python3
"""Search latency on the reference data (docs/performance.md, "Search").

    python bench/search.py --db mariadb      # fresh database, seed, hypercorn, wrk
    python bench/search.py --db postgresql
    python bench/search.py --db mariadb --reuse   # the database of a previous run

Steps: a fresh database ``qb_search_bench`` (MariaDB through asyncmy or PostgreSQL through
asyncpg) migrated to head; ``quart --app quartblog seed --users 1000 --posts 20000
--comments 100000``; then ``--cjk-posts`` posts in Chinese with Latin words mixed in
(the seed's posts are English); ``hypercorn quartblog:app`` (1 worker, production
settings, the response cache off so that every search reaches the database); for
/healthz and each query a wrk warm-up and a measured ``wrk -t2 -c32`` run
(bench/report.lua).  Prints a Markdown table.  The database is kept (drop it by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from bench import load, stack  # noqa: E402  (hypercorn, wrk and parsing helpers)
from bench.figures import parse_wrk_output, wrk_command  # noqa: E402

QUERIES = [
    ("healthz", "/healthz"),
    ("search: English word", "/search?q=" + quote("database")),
    ("search: rare English word", "/search?q=" + quote("deeper lessons")),
    ("search: Chinese word", "/search?q=" + quote("数据库")),
    ("search: mixed query", "/search?q=" + quote("数据库 MariaDB")),
]
CJK_WORDS = ("数据库 索引 查询 迁移 异步 博客 引擎 模板 评论 标签 作者 读者 咖啡 河流 山峰 花园 冬天 "
             "夏天 光明 影子 窗户 早晨 夜晚 故事 旅程 简单 仔细 快速 安静 笔记 想法 课程 错误 测试 缓存").split()
LATIN_MIX = ("MariaDB", "Python", "Quart", "SQLAlchemy", "PostgreSQL", "")


def _cjk_body(rng: random.Random) -> str:
    def sentence() -> str:
        words = rng.choices(CJK_WORDS, k=rng.randint(5, 12))
        words.insert(rng.randrange(len(words)), rng.choice(LATIN_MIX))
        return "".join(words) + "。"
    return "\n\n".join("".join(sentence() for _ in range(rng.randint(3, 6))) for _ in range(rng.randint(3, 5)))


async def _add_cjk_posts(url: str, count: int) -> None:
    from sqlalchemy import func, insert, select

    from quartblog.db import create_engine
    from quartblog.models import Post
    from quartblog.types import utcnow

    rng = random.Random(10)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            first = int(await conn.scalar(select(func.max(Post.id)))) + 1
            now = utcnow()
            rows = [{"id": pid, "slug": f"cjk-{pid}", "title": "".join(rng.choices(CJK_WORDS, k=3)),
                     "description": "", "body": _cjk_body(rng), "created_at": now, "updated_at": now,
                     "author_id": rng.randint(1, 1000), "view_count": 0}
                    for pid in range(first, first + count)]
            for i in range(0, len(rows), 500):
                await conn.execute(insert(Post.__table__), rows[i:i + 500])  # search_text: the column default
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("mariadb", "postgresql"), default="mariadb")
    parser.add_argument("--name", default="qb_search_bench")
    parser.add_argument("--reuse", action="store_true", help="skip creating and seeding")
    parser.add_argument("--cjk-posts", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    args = parser.parse_args()

    if args.db == "mariadb":
        url = f"mysql+asyncmy://root@127.0.0.1:3306/{args.name}?charset=utf8mb4"
        admin = "mysql+asyncmy://root@127.0.0.1:3306/?charset=utf8mb4"
        statements = [f"DROP DATABASE IF EXISTS `{args.name}`",
                      f"CREATE DATABASE `{args.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"]
    else:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{args.name}"
        admin = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        statements = [f'DROP DATABASE IF EXISTS "{args.name}" WITH (FORCE)',
                      f"CREATE DATABASE \"{args.name}\" ENCODING 'UTF8' TEMPLATE template0"]
    env = {**os.environ, "QUARTBLOG_DATABASE_URL": url}
    if not args.reuse:
        from sqlalchemy import text

        from quartblog.db import create_engine
        from quartblog.migrations import upgrade

        async def fresh() -> None:
            engine = create_engine(admin)
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                for statement in statements:
                    await conn.execute(text(statement))
            await engine.dispose()
            engine = create_engine(url, statement_timeout=0)
            await upgrade(engine)
            await engine.dispose()

        asyncio.run(fresh())
        stack.log("seeding: quart --app quartblog seed --users 1000 --posts 20000 --comments 100000")
        subprocess.run([sys.executable, "-m", "quart", "--app", "quartblog", "seed", "--users", "1000",
                        "--posts", "20000", "--comments", "100000", "--quiet"],
                       cwd=stack.PROJECT_ROOT, env=env, check=True)
        stack.log(f"adding {args.cjk_posts} Chinese posts")
        asyncio.run(_add_cjk_posts(url, args.cjk_posts))

    db = SimpleNamespace(url=url)
    stack.RESULTS_DIR.mkdir(exist_ok=True)
    server = stack.start_server(db, cache=False, workers=1, worker_class="asyncio", env=[],
                                log_path=stack.RESULTS_DIR / f"search-{args.db}-hypercorn.log")
    rows = []
    try:
        for name, path in QUERIES:
            status, statements, body = load.probe(server.base_url + path, {})
            stack.log(f"{name}: {path} -> {status}, {len(body)} bytes")
            for duration in (args.warmup, args.duration):
                cmd = wrk_command(server.base_url + path, duration=duration, connections=32, threads=2)
                result = parse_wrk_output(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
            rows.append((name, path, result))
    finally:
        stack.stop_server(server)
    print(f"\n{args.db}: wrk -t2 -c32 -d{args.duration:g}s, hypercorn 1 worker, cache off\n")
    print("| request | req/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|")
    for name, path, r in rows:
        lat = r["latency_ms"]
        print(f"| {name} (`{path}`) | {r['rps']:.0f} | {lat['p50']:.1f} | {lat['p99']:.1f} | "
              f"{r['non_2xx'] + r['socket_errors']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
