#!/usr/bin/env python3
"""quartblog benchmark: one command from an empty database to a table of figures.

    python bench/run.py                          # full run: MariaDB (asyncmy), 1 worker
    python bench/run.py --duration 3 --warmup 1 --posts 2000 --comments 10000   # a quick try
    python bench/run.py --reuse-db quartblog_bench --only healthz,home,api_articles
    python bench/run.py --skip-seed --soak       # memory soak on an already seeded database

Steps: create a fresh database (MariaDB, or SQLite with --sqlite) and migrate it; seed it
(quartblog.seed.seed_database, bulk inserts, progress bar, timed); start
``hypercorn quartblog:app`` on a free loopback port (production settings, a generated
secret key, X-SQL-Statements header on, access log off); for each endpoint, one probe
request (status, SQL statements per request), a wrk warm-up, then a measured wrk run
(bench/report.lua prints the figures as JSON); the hypercorn worker processes' RSS
before and after; a table on stdout and bench/results/<timestamp>.json.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "report.lua"
JSON_MARKER = "QUARTBLOG_BENCH_JSON "
MYSQL_SERVER_DEFAULT = "root@127.0.0.1:3306"
SQL_HEADER = "X-SQL-Statements"

# Targets of issue 5 (one run, 2-core machine, 1 worker, MariaDB through asyncmy).
TARGET_SHARE_KEY = 40.0       # % of /healthz req/s: home page and /api/articles?limit=20
TARGET_SHARE_ALL = 20.0       # % of /healthz req/s: every endpoint
TARGET_P99_MS = 50.0          # p99 latency at 32 connections, every endpoint
TARGET_DEEP_RATIO = 1.5       # deep page p50 / first page p50
TARGET_MAX_SQL = 4            # statements per request, every endpoint
TARGET_RSS_GROWTH = 10.0      # % over the soak
KEY_ENDPOINTS = ("home", "api_articles")
DEEP_PAIRS = (("home_p1000", "home"), ("api_articles_deep", "api_articles"))


# --------------------------------------------------------------------------- endpoints

@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str               # may hold {slug}, {tag}
    auth: bool = False      # send "Authorization: Token <jwt>"
    description: str = ""


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("healthz", "/healthz", description="constant answer, no database: the ceiling"),
    Endpoint("home", "/", description="home page"),
    Endpoint("home_p1000", "/?page=1000", description="home page 1000"),
    Endpoint("post", "/posts/{slug}", description="a post page (the most commented post)"),
    Endpoint("tag", "/tags/{tag}", description="a tag page"),
    Endpoint("feed_atom", "/feed.atom", description="Atom feed"),
    Endpoint("api_articles", "/api/articles?limit=20", description="API: first page"),
    Endpoint("api_articles_deep", "/api/articles?limit=20&offset=19000", description="API: deep page"),
    Endpoint("api_article", "/api/articles/{slug}", description="API: one article"),
    Endpoint("api_comments", "/api/articles/{slug}/comments", description="API: an article's comments"),
    Endpoint("api_tags", "/api/tags", description="API: tags"),
    Endpoint("api_feed", "/api/articles/feed", auth=True,
             description="API: feed of a user who follows people (token)"),
)
ENDPOINT_NAMES = tuple(e.name for e in ENDPOINTS)


def select_endpoints(only: str | None) -> list[Endpoint]:
    """The endpoints named in ``--only`` (comma-separated), in the canonical order."""
    if not only:
        return list(ENDPOINTS)
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in ENDPOINT_NAMES]
    if unknown:
        raise ValueError(f"unknown endpoint(s): {', '.join(unknown)}; known: {', '.join(ENDPOINT_NAMES)}")
    return [e for e in ENDPOINTS if e.name in wanted]


# --------------------------------------------------------------------------- pure helpers

def parse_wrk_output(stdout: str) -> dict[str, Any]:
    """The JSON line that bench/report.lua prints in wrk's done() callback, with
    derived figures: requests/s and latencies in milliseconds."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(JSON_MARKER):
            raw = json.loads(line[len(JSON_MARKER):])
            break
    else:
        raise ValueError("no " + JSON_MARKER.strip() + " line in wrk's output:\n" + stdout[-2000:])
    duration_s = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    errors = raw["errors"]

    def ms(key: str) -> float | None:
        value = lat.get(key)
        return None if value is None else value / 1000.0

    return {
        "requests": raw["requests"],
        "duration_s": duration_s,
        "rps": raw["requests"] / duration_s if duration_s > 0 else 0.0,
        "bytes": raw["bytes"],
        "latency_ms": {key: ms(key) for key in ("min", "mean", "stdev", "p50", "p75", "p90", "p99", "p999", "max")},
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "errors": errors,
    }


def parse_vmrss_kb(status_text: str) -> int | None:
    """VmRSS (kB) from the text of /proc/<pid>/status."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def pct_of(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return 100.0 * value / reference


def growth_pct(before: int | None, after: int | None) -> float | None:
    if not before or after is None:
        return None
    return 100.0 * (after - before) / before


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec)


COLUMNS = (
    # header, key, format, align
    ("endpoint", "name", "", "<"),
    ("status", "status", "", ">"),
    ("req/s", "rps", ",.0f", ">"),
    ("% healthz", "pct_healthz", ".0f", ">"),
    ("p50 ms", "p50", ".1f", ">"),
    ("p90 ms", "p90", ".1f", ">"),
    ("p99 ms", "p99", ".1f", ">"),
    ("non-2xx", "non_2xx", "", ">"),
    ("sock err", "socket_errors", "", ">"),
    ("SQL/req", "sql", "", ">"),
    ("SQL 1st", "sql_cold", "", ">"),
    ("RSS MB", "rss_mb", ".1f", ">"),
)


def table_rows(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten per-endpoint results into the table's cells (None shows as '-')."""
    rows = []
    for r in results:
        wrk = r.get("wrk") or {}
        lat = wrk.get("latency_ms") or {}
        rss = r.get("rss_after_kb")
        rows.append({
            "name": r["name"],
            "status": r.get("status"),
            "rps": wrk.get("rps"),
            "pct_healthz": r.get("pct_healthz"),
            "p50": lat.get("p50"),
            "p90": lat.get("p90"),
            "p99": lat.get("p99"),
            "non_2xx": wrk.get("non_2xx"),
            "socket_errors": wrk.get("socket_errors"),
            "sql": r.get("sql_statements"),
            "sql_cold": r.get("sql_statements_cold"),
            "rss_mb": None if rss is None else rss / 1024.0,
        })
    return rows


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """A plain-text table, one line per endpoint."""
    rows = table_rows(results)
    cells = [[h for h, *_ in COLUMNS]]
    for row in rows:
        cells.append([_fmt(row[key], spec) for _, key, spec, _ in COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    out = []
    for n, line in enumerate(cells):
        out.append("  ".join(format(text, f"{COLUMNS[i][3]}{widths[i]}") for i, text in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def add_healthz_share(results: list[dict[str, Any]]) -> float | None:
    """Fill each result's ``pct_healthz``; returns the /healthz requests/s (None if not run)."""
    ceiling = next((r["wrk"]["rps"] for r in results if r["name"] == "healthz" and r.get("wrk")), None)
    for r in results:
        r["pct_healthz"] = pct_of(r["wrk"]["rps"], ceiling) if r.get("wrk") else None
    return ceiling


def check_targets(results: Sequence[dict[str, Any]], soak: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each target of issue 5 that the figures allow to check: name, value, limit, ok."""
    by_name = {r["name"]: r for r in results if r.get("wrk")}
    checks: list[dict[str, Any]] = []

    def add(target: str, value: float | None, limit: float, ok: bool | None) -> None:
        checks.append({"target": target, "value": value, "limit": limit, "ok": ok})

    have_healthz = "healthz" in by_name
    for r in results:
        if not r.get("wrk"):
            continue
        name, wrk = r["name"], r["wrk"]
        if name != "healthz" and have_healthz:
            limit = TARGET_SHARE_KEY if name in KEY_ENDPOINTS else TARGET_SHARE_ALL
            add(f"{name}: req/s >= {limit:.0f}% of healthz", r["pct_healthz"], limit,
                r["pct_healthz"] is not None and r["pct_healthz"] >= limit)
        p99 = wrk["latency_ms"]["p99"]
        add(f"{name}: p99 < {TARGET_P99_MS:.0f} ms", p99, TARGET_P99_MS, p99 is not None and p99 < TARGET_P99_MS)
        counts = [c for c in (r.get("sql_statements"), r.get("sql_statements_cold")) if c is not None]
        if counts:  # every request counts: the first (cold) one as well as a warm one
            add(f"{name}: <= {TARGET_MAX_SQL} SQL statements per request", max(counts), TARGET_MAX_SQL,
                max(counts) <= TARGET_MAX_SQL)
        if wrk["non_2xx"] or wrk["socket_errors"] or (r.get("status") and not 200 <= r["status"] < 300):
            add(f"{name}: only 2xx responses, no socket errors",
                wrk["non_2xx"] + wrk["socket_errors"], 0, False)
    for deep, first in DEEP_PAIRS:
        if deep in by_name and first in by_name:
            a = by_name[deep]["wrk"]["latency_ms"]["p50"]
            b = by_name[first]["wrk"]["latency_ms"]["p50"]
            ratio = a / b if a and b else None
            add(f"{deep}: p50 <= {TARGET_DEEP_RATIO}x {first}'s", ratio, TARGET_DEEP_RATIO,
                ratio is not None and ratio <= TARGET_DEEP_RATIO)
    if soak and soak.get("rss_growth_pct") is not None:
        add(f"soak ({soak['endpoint']}, {soak['requests']:,} requests): RSS growth < {TARGET_RSS_GROWTH:.0f}%",
            soak["rss_growth_pct"], TARGET_RSS_GROWTH, soak["rss_growth_pct"] < TARGET_RSS_GROWTH)
    return checks


def format_checks(checks: Sequence[dict[str, Any]]) -> str:
    lines = []
    for c in checks:
        value = c["value"]
        shown = "-" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))
        lines.append(f"  [{'ok' if c['ok'] else 'FAIL':>4}] {c['target']}: {shown}")
    failed = sum(1 for c in checks if not c["ok"])
    lines.append(f"  {len(checks) - failed}/{len(checks)} targets met")
    return "\n".join(lines)


def wrk_command(url: str, *, duration: float, connections: int, threads: int,
                headers: Iterable[str] = (), timeout: str = "10s", script: Path | None = LUA_SCRIPT) -> list[str]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", f"--timeout={timeout}"]
    if script is not None:
        cmd += ["-s", str(script)]
    for header in headers:
        cmd += ["-H", header]
    cmd.append(url)
    return cmd


# --------------------------------------------------------------------------- environment

def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_wrk() -> str:
    """wrk's path; installs Debian's package when it is missing (root only)."""
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("wrk is not installed: sudo apt-get install wrk")
    log("wrk is missing: apt-get install wrk")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(install, env=env, check=True, stdout=subprocess.DEVNULL)
    path = shutil.which("wrk")
    if not path:
        sys.exit("could not install wrk")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_rss_kb(pid: int) -> int | None:
    try:
        return parse_vmrss_kb(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None


def child_pids(pid: int) -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def worker_pids(parent: int) -> list[int]:
    """hypercorn's worker processes: the parent's multiprocessing children (not the
    resource tracker); the parent itself when it serves alone (--workers 0)."""
    workers = []
    for pid in child_pids(parent):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "resource_tracker" not in cmdline:
            workers.append(pid)
    return workers or [parent]


def workers_rss_kb(parent: int) -> dict[int, int | None]:
    return {pid: read_rss_kb(pid) for pid in worker_pids(parent)}


def total_kb(rss: dict[int, int | None]) -> int | None:
    values = [v for v in rss.values() if v is not None]
    return sum(values) if values else None


# --------------------------------------------------------------------------- database

@dataclass
class BenchDatabase:
    url: str                        # what the app and alembic use
    admin_url: str | None = None    # MariaDB server URL without a database (create/drop)
    name: str = ""
    path: Path | None = None        # SQLite file
    created: bool = False


def make_database(args: argparse.Namespace) -> BenchDatabase:
    if args.sqlite:
        name = args.reuse_db or args.db_name
        path = Path(name) if name.endswith((".db", ".sqlite", ".sqlite3")) or "/" in name \
            else RESULTS_DIR / f"{name}.sqlite3"
        return BenchDatabase(url=f"sqlite+aiosqlite:///{path.resolve()}", name=name, path=path.resolve())
    name = args.reuse_db or args.db_name
    server = args.mysql_server
    return BenchDatabase(url=f"mysql+{args.driver}://{server}/{name}?charset=utf8mb4",
                         admin_url=f"mysql+{args.driver}://{server}/?charset=utf8mb4", name=name)


async def _admin(db: BenchDatabase, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db.admin_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def create_and_migrate(db: BenchDatabase, fresh: bool) -> None:
    from quartblog.db import create_engine
    from quartblog.migrations import upgrade

    if fresh:
        if db.path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db.path) + suffix).unlink(missing_ok=True)
            db.path.parent.mkdir(parents=True, exist_ok=True)
        else:
            await _admin(db, f"DROP DATABASE IF EXISTS `{db.name}`")
            await _admin(db, f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci")
        db.created = True
    engine = create_engine(db.url)
    try:
        await upgrade(engine)  # a no-op on a database already at head
    finally:
        await engine.dispose()


async def seed(db: BenchDatabase, args: argparse.Namespace) -> tuple[dict[str, int], float]:
    from quartblog.db import create_engine
    from quartblog.seed import seed_database

    engine = create_engine(db.url)
    try:
        started = time.perf_counter()
        counts = await seed_database(
            engine, n_users=args.users, n_posts=args.posts, n_comments=args.comments,
            n_tags=args.tags, tags_per_post=3, n_follows=args.follows, n_favorites=args.favorites,
            random_seed=1)
        return counts, time.perf_counter() - started
    finally:
        await engine.dispose()


async def pick_targets(db: BenchDatabase) -> dict[str, Any]:
    """The post (most commented), tag (most used) and user (follows the most people)
    that the parameterised endpoints use, and the database's row counts."""
    from sqlalchemy import text

    from quartblog.db import create_engine

    engine = create_engine(db.url)
    try:
        async with engine.connect() as conn:
            one = lambda sql: conn.execute(text(sql))  # noqa: E731
            slug = (await one(
                "SELECT p.slug FROM posts p JOIN (SELECT post_id, COUNT(*) AS n FROM comments "
                "GROUP BY post_id ORDER BY n DESC, post_id LIMIT 1) c ON c.post_id = p.id")).scalar()
            if slug is None:
                slug = (await one("SELECT slug FROM posts ORDER BY id DESC LIMIT 1")).scalar()
            tag = (await one(
                "SELECT t.name FROM tags t JOIN (SELECT tag_id, COUNT(*) AS n FROM post_tags "
                "GROUP BY tag_id ORDER BY n DESC, tag_id LIMIT 1) pt ON pt.tag_id = t.id")).scalar()
            email = (await one(
                "SELECT u.email FROM users u JOIN (SELECT follower_id, COUNT(*) AS n FROM follows "
                "GROUP BY follower_id ORDER BY n DESC, follower_id LIMIT 1) f ON f.follower_id = u.id")).scalar()
            counts = {}
            for table in ("users", "posts", "comments", "tags", "post_tags", "follows", "favorites"):
                counts[table] = (await one(f"SELECT COUNT(*) FROM {table}")).scalar()
        return {"slug": slug, "tag": tag, "email": email, "rows": counts}
    finally:
        await engine.dispose()


def drop_database(db: BenchDatabase) -> None:
    if db.path is not None:
        for suffix in ("", "-wal", "-shm", ".migrate-lock"):
            Path(str(db.path) + suffix).unlink(missing_ok=True)
    else:
        asyncio.run(_admin(db, f"DROP DATABASE IF EXISTS `{db.name}`"))


# --------------------------------------------------------------------------- server

@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log_path: Path
    log_file: Any = None
    workers: list[int] = field(default_factory=list)


def server_env(db: BenchDatabase, args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "QUARTBLOG_ENV": "production",
        "QUARTBLOG_SECRET_KEY": secrets.token_urlsafe(48),
        "QUARTBLOG_DATABASE_URL": db.url,
        "QUARTBLOG_SQL_COUNT_HEADER": "1",
        "QUARTBLOG_AUTO_MIGRATE": "0",
        "PYTHONUNBUFFERED": "1",
    })
    if args.no_cache:
        env["QUARTBLOG_CACHE_ENABLED"] = "0"
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def start_server(db: BenchDatabase, args: argparse.Namespace, log_path: Path) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "hypercorn", "quartblog:app", "--bind", f"127.0.0.1:{port}",
           "--workers", str(args.workers), "--worker-class", args.worker_class]
    # hypercorn writes no access log unless --access-logfile is given: none here.
    log(f"starting {' '.join(cmd[2:])} (log: {log_path})")
    log_file = open(log_path, "w")
    process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=server_env(db, args), stdout=log_file,
                               stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log_path, log_file)
    for _ in range(args.start_tries):
        if process.poll() is not None:
            raise RuntimeError(f"hypercorn exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.base_url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.25)
    else:
        stop_server(server)
        raise RuntimeError(f"hypercorn did not answer /healthz after {args.start_tries} tries:\n"
                           + log_path.read_text()[-3000:])
    # Every worker must be up before the figures mean anything.
    for _ in range(40):
        server.workers = worker_pids(process.pid)
        if len(server.workers) >= max(args.workers, 1):
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
    # Workers left behind (should not happen): kill them by id.
    for pid in server.workers:
        try:
            os.kill(pid, 0)
        except OSError:
            continue
        os.kill(pid, signal.SIGKILL)
    if server.log_file:
        server.log_file.close()


# --------------------------------------------------------------------------- HTTP

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx is reported, not followed
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def probe(url: str, headers: dict[str, str]) -> tuple[int, int | None, int]:
    """One request: status, X-SQL-Statements (None when absent), body size."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with _opener.open(request, timeout=30) as response:
            body = response.read()
            status, sql = response.status, response.headers.get(SQL_HEADER)
    except urllib.error.HTTPError as exc:
        body = exc.read()
        status, sql = exc.code, exc.headers.get(SQL_HEADER)
    return status, (int(sql) if sql is not None else None), len(body)


def login(base_url: str, email: str, password: str) -> str | None:
    payload = json.dumps({"user": {"email": email, "password": password}}).encode()
    request = urllib.request.Request(base_url + "/api/users/login", data=payload, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["user"]["token"]
    except (urllib.error.URLError, KeyError, ValueError) as exc:
        log(f"log-in as {email} failed: {exc}")
        return None


def run_wrk(url: str, args: argparse.Namespace, *, duration: float, headers: Iterable[str]) -> dict[str, Any]:
    cmd = wrk_command(url, duration=duration, connections=args.connections, threads=args.threads,
                      headers=headers)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk_output(done.stdout)


# --------------------------------------------------------------------------- the run

def bench_endpoint(server: Server, endpoint: Endpoint, targets: dict[str, Any], token: str | None,
                   args: argparse.Namespace) -> dict[str, Any]:
    path = endpoint.path.format(slug=targets.get("slug") or "none", tag=targets.get("tag") or "none")
    url = server.base_url + path
    headers = {}
    if endpoint.auth:
        if token is None:
            log(f"{endpoint.name}: skipped (no token)")
            return {"name": endpoint.name, "path": path, "skipped": "no token"}
        headers["Authorization"] = f"Token {token}"
    header_lines = [f"{k}: {v}" for k, v in headers.items()]
    # SQL statements of the first request (cold: nothing cached yet) and of one request
    # after the warm-up (what the measured requests run).
    status, sql_cold, size = probe(url, headers)
    result: dict[str, Any] = {"name": endpoint.name, "path": path, "status": status,
                              "sql_statements_cold": sql_cold, "body_bytes": size,
                              "rss_before_kb": total_kb(workers_rss_kb(server.process.pid))}
    if not 200 <= status < 300:
        log(f"{endpoint.name}: {path} answers {status} (measured anyway)")
    if args.warmup > 0:
        run_wrk(url, args, duration=args.warmup, headers=header_lines)
    status, sql, _ = probe(url, headers)
    result.update(status=status, sql_statements=sql)
    result["wrk"] = run_wrk(url, args, duration=args.duration, headers=header_lines)
    result["rss_after_kb"] = total_kb(workers_rss_kb(server.process.pid))
    w = result["wrk"]
    log(f"{endpoint.name:<18} {w['rps']:>9,.0f} req/s  p99 {w['latency_ms']['p99']:.1f} ms  "
        f"status {status}  SQL {_fmt(sql)} (first request {_fmt(sql_cold)})")
    return result


def soak(server: Server, endpoint: Endpoint, targets: dict[str, Any], token: str | None,
         args: argparse.Namespace) -> dict[str, Any]:
    """``args.soak_requests`` requests on one endpoint, in wrk runs of ``args.soak_chunk``
    seconds, after a warm-up; worker RSS sampled after each run."""
    path = endpoint.path.format(slug=targets.get("slug") or "none", tag=targets.get("tag") or "none")
    url = server.base_url + path
    headers = [f"Authorization: Token {token}"] if endpoint.auth and token else []
    log(f"soak: {args.soak_requests:,} requests on {path} (warm-up {args.warmup}s first)")
    if args.warmup > 0:
        run_wrk(url, args, duration=args.warmup, headers=headers)
    before = total_kb(workers_rss_kb(server.process.pid))
    samples = [{"requests": 0, "rss_kb": before}]
    done = non_2xx = 0
    started = time.perf_counter()
    while done < args.soak_requests:
        w = run_wrk(url, args, duration=args.soak_chunk, headers=headers)
        done += w["requests"]
        non_2xx += w["non_2xx"] + w["socket_errors"]
        samples.append({"requests": done, "rss_kb": total_kb(workers_rss_kb(server.process.pid))})
        log(f"soak: {done:,} requests, worker RSS {samples[-1]['rss_kb'] / 1024:.1f} MB")
    after = samples[-1]["rss_kb"]
    result = {"endpoint": endpoint.name, "path": path, "requests": done, "errors": non_2xx,
              "seconds": time.perf_counter() - started, "rss_before_kb": before, "rss_after_kb": after,
              "rss_growth_pct": growth_pct(before, after), "samples": samples}
    log(f"soak: RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB "
        f"({result['rss_growth_pct']:+.1f}%, target < {TARGET_RSS_GROWTH:.0f}%)")
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Benchmark quartblog: fresh database, bulk seed, hypercorn, wrk per endpoint, "
                    "table + bench/results/<timestamp>.json. See docs/performance.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("load")
    g.add_argument("--duration", type=float, default=30, help="seconds of measured load per endpoint")
    g.add_argument("--warmup", type=float, default=5, help="seconds of unmeasured load before each measurement")
    g.add_argument("--connections", "-c", type=int, default=32, help="wrk connections")
    g.add_argument("--threads", "-t", type=int, default=2, help="wrk threads (the machine has 2 cores)")
    g.add_argument("--only", metavar="A,B", help="endpoints to run, comma-separated: " + ",".join(ENDPOINT_NAMES))
    g.add_argument("--soak", nargs="?", const="home", metavar="ENDPOINT", choices=ENDPOINT_NAMES,
                   help="also run a memory soak on ENDPOINT (default: home) and report RSS growth")
    g.add_argument("--soak-only", action="store_true", help="run the soak alone (no per-endpoint table)")
    g.add_argument("--soak-requests", type=int, default=100_000, help="requests of the soak")
    g.add_argument("--soak-chunk", type=float, default=10, help="seconds per wrk run of the soak (RSS sampled between)")

    g = p.add_argument_group("server")
    g.add_argument("--workers", type=int, default=1, help="hypercorn workers")
    g.add_argument("--worker-class", default="asyncio", choices=("asyncio", "uvloop", "trio"),
                   help="hypercorn worker class (uvloop/trio must be installed)")
    g.add_argument("--no-cache", action="store_true", help="run the app with QUARTBLOG_CACHE_ENABLED=0")
    g.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment variable for the server (repeatable)")
    g.add_argument("--start-tries", type=int, default=120, help="polls of /healthz (every 0.25 s) before giving up")
    g.add_argument("--profile", metavar="ENDPOINT", choices=ENDPOINT_NAMES,
                   help="after the table, record a py-spy flame graph of the worker under load on "
                        "ENDPOINT (bench/results/<timestamp>-<endpoint>.svg; needs py-spy)")
    g.add_argument("--profile-seconds", type=int, default=10)

    g = p.add_argument_group("database")
    g.add_argument("--sqlite", action="store_true", help="SQLite (aiosqlite) instead of MariaDB")
    g.add_argument("--driver", default="asyncmy", choices=("asyncmy", "aiomysql"), help="MariaDB driver")
    g.add_argument("--mysql-server", default=MYSQL_SERVER_DEFAULT, metavar="USER[:PW]@HOST:PORT")
    g.add_argument("--db-name", default="quartblog_bench",
                   help="database name (SQLite: file name in bench/results/, or a path)")
    g.add_argument("--skip-seed", action="store_true",
                   help="use the existing, already seeded database --db-name (not recreated, not dropped)")
    g.add_argument("--reuse-db", metavar="NAME", help="same as --skip-seed --db-name NAME")
    g.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    g.add_argument("--seed-only", action="store_true", help="create, migrate and seed, then stop (implies --keep-db)")

    g = p.add_argument_group("seed sizes")
    g.add_argument("--users", type=int, default=1000)
    g.add_argument("--posts", type=int, default=20_000)
    g.add_argument("--comments", type=int, default=100_000)
    g.add_argument("--tags", type=int, default=50, help="tag pool (3 tags per post)")
    g.add_argument("--follows", type=int, default=10, help="follows per user")
    g.add_argument("--favorites", type=int, default=20, help="favorites per user")

    p.add_argument("--output", type=Path, help="JSON file (default: bench/results/<timestamp>.json)")
    args = p.parse_args(argv)
    if args.reuse_db:
        args.skip_seed = True
        args.db_name = args.reuse_db
    if args.seed_only:
        args.keep_db = True
    if args.soak_only and not args.soak:
        args.soak = "home"
    try:
        args.endpoints = select_endpoints(args.only)
    except ValueError as exc:
        p.error(str(exc))
    return args


def profile_endpoint(server: Server, endpoint: Endpoint, targets: dict[str, Any], token: str | None,
                     args: argparse.Namespace, stamp: str) -> dict[str, Any] | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        log("profile: py-spy is not installed (pip install py-spy)")
        return None
    path = endpoint.path.format(slug=targets.get("slug") or "none", tag=targets.get("tag") or "none")
    headers = [f"Authorization: Token {token}"] if endpoint.auth and token else []
    pid = server.workers[0]
    svg = RESULTS_DIR / f"{stamp}-{endpoint.name}.svg"
    raw = RESULTS_DIR / f"{stamp}-{endpoint.name}.txt"
    log(f"profile: py-spy on worker {pid} for {args.profile_seconds}s under load on {path}")
    load = subprocess.Popen(wrk_command(server.base_url + path, duration=args.profile_seconds + 4,
                                        connections=args.connections, threads=args.threads,
                                        headers=headers, script=None),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        for fmt, out in (("flamegraph", svg), ("raw", raw)):
            subprocess.run([py_spy, "record", "--pid", str(pid), "--duration", str(args.profile_seconds // 2 or 1),
                            "--format", fmt, "--output", str(out), "--nonblocking"],
                           check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        load.wait(timeout=args.profile_seconds + 60)
    log(f"profile: {svg} and {raw} (collapsed stacks)")
    return {"endpoint": endpoint.name, "svg": str(svg), "collapsed": str(raw)}


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C and SIGTERM both unwind through the finally below (server stopped,
    # database dropped), even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    output = args.output or RESULTS_DIR / f"{stamp}.json"
    if not args.seed_only:
        ensure_wrk()
    sys.path.insert(0, str(PROJECT_ROOT))
    db = make_database(args)
    report: dict[str, Any] = {
        "timestamp": stamp,
        "command": " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_before": os.getloadavg()},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "endpoints"},
        "database": {"backend": "sqlite" if args.sqlite else f"mariadb/{args.driver}", "name": db.name},
    }
    server: Server | None = None
    fresh = not args.skip_seed
    drop = fresh and not args.keep_db
    try:
        log(f"database {db.name} ({report['database']['backend']}): "
            + ("create and migrate" if fresh else "reuse (migrate if behind)"))
        asyncio.run(create_and_migrate(db, fresh))
        if fresh:
            log(f"seeding {args.users:,} users, {args.posts:,} posts, {args.comments:,} comments ...")
            counts, seconds = asyncio.run(seed(db, args))
            report["seed"] = {"counts": counts, "seconds": seconds}
            log(f"seeded in {seconds:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        targets = asyncio.run(pick_targets(db))
        report["database"]["rows"] = targets["rows"]
        report["targets_used"] = {k: targets[k] for k in ("slug", "tag", "email")}
        if args.seed_only:
            log(f"--seed-only: database {db.name} kept")
            return 0

        server = start_server(db, args, RESULTS_DIR / f"{stamp}-hypercorn.log")
        token = None
        if any(e.auth for e in args.endpoints) or (args.soak and args.soak == "api_feed"):
            token = login(server.base_url, targets["email"], "password123") if targets["email"] else None
            log(f"token for {targets['email']}: {'ok' if token else 'none'}")
        rss_start = workers_rss_kb(server.process.pid)
        report["rss_start_kb"] = {str(k): v for k, v in rss_start.items()}

        results: list[dict[str, Any]] = []
        if not args.soak_only:
            for endpoint in args.endpoints:
                try:
                    results.append(bench_endpoint(server, endpoint, targets, token, args))
                except (RuntimeError, OSError, urllib.error.URLError, subprocess.TimeoutExpired) as exc:
                    log(f"{endpoint.name}: failed: {exc}")
                    results.append({"name": endpoint.name, "error": str(exc)})
        ceiling = add_healthz_share(results)
        rss_end = workers_rss_kb(server.process.pid)
        report.update(results=results, healthz_rps=ceiling,
                      rss_end_kb={str(k): v for k, v in rss_end.items()})
        if args.soak:
            by_name = {e.name: e for e in ENDPOINTS}
            report["soak"] = soak(server, by_name[args.soak], targets, token, args)
        if args.profile:
            by_name = {e.name: e for e in ENDPOINTS}
            report["profile"] = profile_endpoint(server, by_name[args.profile], targets, token, args, stamp)

        checks = check_targets(results, report.get("soak"))
        report["checks"] = checks
        print()
        print(f"quartblog benchmark {stamp}: {report['database']['backend']}, hypercorn {args.workers} "
              f"worker(s) ({args.worker_class}), wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
              f"after {args.warmup:g}s warm-up{', cache off' if args.no_cache else ''}")
        if "seed" in report:
            print(f"seeded in {report['seed']['seconds']:.1f} s")
        if results:
            print(format_table(results))
            before, after = total_kb(rss_start), total_kb(rss_end)
            if before and after:
                print(f"worker RSS: {before / 1024:.1f} MB before, {after / 1024:.1f} MB after "
                      f"({growth_pct(before, after):+.1f}%)")
        if report.get("soak"):
            s = report["soak"]
            print(f"soak {s['endpoint']}: {s['requests']:,} requests, RSS {s['rss_before_kb'] / 1024:.1f} -> "
                  f"{s['rss_after_kb'] / 1024:.1f} MB ({s['rss_growth_pct']:+.1f}%)")
        print("targets (issue 5):")
        print(format_checks(checks))
        return 0
    finally:
        if server is not None:
            stop_server(server)
            log("hypercorn stopped")
        report["machine"]["loadavg_after"] = os.getloadavg()
        if "results" in report or "soak" in report or "seed" in report:
            output.write_text(json.dumps(report, indent=2, default=str) + "\n")
            log(f"results: {output}")
        if drop and db.created:
            try:
                drop_database(db)
                log(f"database {db.name} dropped")
            except Exception as exc:  # noqa: BLE001 - report, do not hide the real error
                log(f"could not drop {db.name}: {exc}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("[bench] interrupted", file=sys.stderr)
        sys.exit(130)
