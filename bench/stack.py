"""The benchmark's database (MariaDB or PostgreSQL: create, migrate, seed, drop) and
its server (``hypercorn quartblog:app`` in production settings; worker RSS from /proc)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.figures import parse_vmrss_kb

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
DATABASES = ("mariadb", "postgresql")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- database

@dataclass
class BenchDatabase:
    kind: str           # mariadb | postgresql
    url: str            # what the app and alembic use
    name: str
    admin_url: str      # the server without a database (create/drop)
    created: bool = False

    @property
    def backend(self) -> str:
        return f"{self.kind}/{self.url.split('+', 1)[1].split(':', 1)[0]}"


def make_database(kind: str, name: str, *, driver: str = "asyncmy", mysql_server: str = "root@127.0.0.1:3306",
                  postgres_server: str = "postgres@127.0.0.1:5432") -> BenchDatabase:
    if kind == "postgresql":
        return BenchDatabase(kind, f"postgresql+asyncpg://{postgres_server}/{name}", name,
                             admin_url=f"postgresql+asyncpg://{postgres_server}/postgres")
    return BenchDatabase(kind, f"mysql+{driver}://{mysql_server}/{name}?charset=utf8mb4", name,
                         admin_url=f"mysql+{driver}://{mysql_server}/?charset=utf8mb4")


async def _admin(db: BenchDatabase, *statements: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db.admin_url)
    try:  # CREATE/DROP DATABASE cannot run inside a transaction on PostgreSQL
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _drop_statement(db: BenchDatabase) -> str:
    return (f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)' if db.kind == "postgresql"
            else f"DROP DATABASE IF EXISTS `{db.name}`")


async def create_and_migrate(db: BenchDatabase, fresh: bool) -> None:
    from quartblog.db import create_engine
    from quartblog.migrations import upgrade

    if fresh:
        if db.kind == "postgresql":
            await _admin(db, _drop_statement(db), f"CREATE DATABASE \"{db.name}\" ENCODING 'UTF8' TEMPLATE template0")
        else:
            await _admin(db, _drop_statement(db),
                         f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci")
        db.created = True
    engine = create_engine(db.url)
    try:
        await upgrade(engine)  # a no-op on a database already at head
    finally:
        await engine.dispose()


async def seed(db: BenchDatabase, sizes: dict[str, int]) -> tuple[dict[str, int], float]:
    from quartblog.db import create_engine
    from quartblog.cli.seed import seed_database

    engine, started = create_engine(db.url), time.perf_counter()
    try:
        return await seed_database(engine, tags_per_post=3, random_seed=1, **sizes), time.perf_counter() - started
    finally:
        await engine.dispose()


async def pick_targets(db: BenchDatabase, writers: int) -> dict[str, Any]:
    """What the parameterised endpoints use: the most commented post, the most used tag, the
    user who follows the most people; the writers' e-mails, the 20 newest posts (the writing
    mix's targets) and the database's row counts."""
    from sqlalchemy import text

    from quartblog.db import create_engine

    engine = create_engine(db.url)
    try:
        async with engine.connect() as conn:
            async def run(sql: str):
                return await conn.execute(text(sql))
            slug = (await run(
                "SELECT p.slug FROM posts p JOIN (SELECT post_id, COUNT(*) AS n FROM comments "
                "GROUP BY post_id ORDER BY n DESC, post_id LIMIT 1) c ON c.post_id = p.id")).scalar()
            tag = (await run(
                "SELECT t.name FROM tags t JOIN (SELECT tag_id, COUNT(*) AS n FROM post_tags "
                "GROUP BY tag_id ORDER BY n DESC, tag_id LIMIT 1) pt ON pt.tag_id = t.id")).scalar()
            email = (await run(
                "SELECT u.email FROM users u JOIN (SELECT follower_id, COUNT(*) AS n FROM follows "
                "GROUP BY follower_id ORDER BY n DESC, follower_id LIMIT 1) f ON f.follower_id = u.id")).scalar()
            writers_ = (await run(f"SELECT email FROM users ORDER BY id DESC LIMIT {int(writers)}")).scalars().all()
            newest = (await run("SELECT slug FROM posts ORDER BY id DESC LIMIT 20")).scalars().all()
            rows = {t: (await run(f"SELECT COUNT(*) FROM {t}")).scalar()
                    for t in ("users", "posts", "comments", "tags", "post_tags", "follows", "favorites")}
        return {"slug": slug, "tag": tag, "email": email, "writers": list(writers_), "newest": list(newest),
                "rows": rows, "deep_offset": max(0, rows["posts"] * 19 // 20), "deep_page": max(1, rows["posts"] // 20)}
    finally:
        await engine.dispose()


async def drop_database(db: BenchDatabase) -> None:
    await _admin(db, _drop_statement(db))


# --------------------------------------------------------------------------- server

@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log_file: Any
    workers: list[int] = field(default_factory=list)


def server_env(db_url: str, *, cache: bool, port: int, extra: list[str] = ()) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "QUARTBLOG_ENV": "production", "QUARTBLOG_SECRET_KEY": secrets.token_urlsafe(48),
        "QUARTBLOG_SITE_URL": f"http://127.0.0.1:{port}", "QUARTBLOG_DATABASE_URL": db_url,
        "QUARTBLOG_SQL_COUNT_HEADER": "1", "QUARTBLOG_AUTO_MIGRATE": "0",
        "QUARTBLOG_CACHE_ENABLED": "1" if cache else "0",
        "QUARTBLOG_AUTH_RATE_LIMIT_PER_MINUTE": "0",  # the harness signs several users in
        "PYTHONUNBUFFERED": "1",
    })
    for item in extra:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def worker_pids(parent: int) -> list[int]:
    """hypercorn's worker processes (not multiprocessing's resource tracker); the parent
    itself when it has none."""
    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""
    children = [int(pid) for task in Path(f"/proc/{parent}/task").glob("*") for pid in read(f"{task}/children").split()]
    return [pid for pid in children if "resource_tracker" not in read(f"/proc/{pid}/cmdline")] or [parent]


def workers_rss_kb(server: Server) -> int | None:
    """The summed VmRSS of the server's worker processes."""
    values = []
    for pid in worker_pids(server.process.pid):
        try:
            values.append(parse_vmrss_kb(Path(f"/proc/{pid}/status").read_text()) or 0)
        except OSError:
            pass
    return sum(values) or None


def start_server(db: BenchDatabase, *, cache: bool, workers: int, worker_class: str, env: list[str],
                 log_path: Path, tries: int = 240) -> Server:
    with socket.socket() as s:  # a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "hypercorn", "quartblog:app", "--bind", f"127.0.0.1:{port}",
           "--workers", str(workers), "--worker-class", worker_class]  # no access log unless asked
    log(f"starting {' '.join(cmd[2:])} (cache {'on' if cache else 'off'}; log: {log_path.name})")
    log_file = open(log_path, "w")
    process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=server_env(db.url, cache=cache, port=port, extra=env),
                               stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log_file)
    for _ in range(tries):
        if process.poll() is not None:
            raise RuntimeError(f"hypercorn exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.base_url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    else:
        stop_server(server)
        raise RuntimeError(f"hypercorn did not answer /healthz:\n{log_path.read_text()[-3000:]}")
    for _ in range(40):  # every worker must be up before the figures mean anything
        server.workers = worker_pids(process.pid)
        if len(server.workers) >= max(workers, 1):
            break
        time.sleep(0.25)
    log(f"hypercorn up at {server.base_url}: parent {process.pid}, workers {server.workers}")
    return server


def stop_server(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # hypercorn shuts its workers down
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group of the process started here
            process.wait(timeout=5)
    for pid in server.workers:  # workers left behind (should not happen): by id
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    server.log_file.close()
