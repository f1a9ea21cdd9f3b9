"""A deployment under load: the scenario shared by tests/test_live_migration.py (a small
data set) and bench/live_migration.py (the reference data set).

While a bounded load of reads and writes runs without pause (site pages and API:
lists, post pages, new comments, favorites, new posts), the steps of an
expand/contract deployment are carried out the way an operator would, each one a
separate program:

1. ``serve``      the OLD release (``hypercorn tests.live_migration.releases:release1``,
                  2 workers) serves;
2. ``expand``     ``alembic upgrade live_index``: a new NULL-able column, its batched
                  backfill, an index built online;
3. ``takeover``   the NEW release (``releases:release2``, 2 workers) starts on the same
                  listening socket, both serve at once, then the old one is stopped
                  (SIGTERM: it stops accepting, its in-flight requests finish);
4. ``contract``   ``alembic upgrade live_contract``: the old release's column goes;

and back: ``contract down``, the old release takes back over, ``expand down``.  Both
servers share one socket, bound here before either starts (``fd://``), so a request
never finds the port closed.  Every response is recorded with the step it began in;
at the end every acknowledged write is looked up in the database.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from quartblog.models import Comment, Post, User, favorites

from ..servers import LoggedProcess
from .revisions import ALEMBIC_INI, CONTRACT, EXPAND, LEGACY

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
PASSWORD = "password123"  # quartblog.cli.seed's demo users
READY_TIMEOUT = 120.0
RESENDS = 2
GRACEFUL_TIMEOUT = 30  # seconds a stopping release gives its in-flight requests


def log(message: str) -> None:
    print(f"[live {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- servers

class Process(LoggedProcess):
    """tests/servers.py's logged subprocess, run from the project's folder in its own
    process group (a failed run can end it whole)."""

    async def start(self, argv: list[str], env: dict[str, str], pass_fds: tuple[int, ...] = ()) -> None:
        await super().start(argv, env, cwd=PROJECT_ROOT, pass_fds=pass_fds, new_session=True)

    async def wait_for(self, pattern: str, count: int = 1, timeout: float = READY_TIMEOUT) -> str:
        return await super().wait_for(pattern, count=count, timeout=timeout)


class Release:
    """``hypercorn <app> --workers 2 --bind fd://<the shared socket>``."""

    def __init__(self, name: str, app: str, listener: socket.socket, env: dict[str, str], logs: Path) -> None:
        self.name, self.app, self.listener, self.env, self.logs = name, app, listener, env, logs
        self.process = Process(name, logs / f"{name}.log")
        self.lines: list[str] = []  # of earlier runs

    async def start(self) -> None:
        """Returns once both workers serve."""
        self.lines += self.process.lines
        self.process = Process(self.name, self.logs / f"{self.name}.log")
        fd = self.listener.fileno()
        await self.process.start([sys.executable, "-m", "hypercorn", self.app, "--workers", str(WORKERS),
                                  "--bind", f"fd://{fd}", "--graceful-timeout", str(GRACEFUL_TIMEOUT)], self.env, pass_fds=(fd,))
        # Each worker logs "Running on" once its app has started (lifespan complete).
        await self.process.wait_for(r"Running on", count=WORKERS)

    async def stop(self) -> None:
        """SIGTERM: hypercorn stops accepting, lets in-flight requests finish
        (graceful_timeout), runs the app's shutdown, and exits."""
        assert self.process.process is not None
        self.process.process.send_signal(signal.SIGTERM)
        code = await self.process.wait()
        assert code == 0, f"{self.name} exited with {code}:\n{self.process.tail()}"

    def kill(self) -> None:
        """The last resort of a scenario that failed: the server and its workers."""
        process = self.process.process
        if process is not None and process.returncode is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def problems(self) -> list[str]:
        return [line for line in self.lines + self.process.lines if "Traceback" in line or " 500 " in line]


async def alembic(command: str, revision: str, env: dict[str, str], logs: Path) -> Process:
    """``alembic -c tests/live_migration/alembic.ini <command> <revision>``, as an operator runs it."""
    process = Process(f"alembic {command} {revision}", logs / "alembic.log")
    await process.start([sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), command, revision], env)
    code = await process.wait()
    assert code == 0, f"alembic {command} {revision} failed ({code}):\n{process.tail()}"
    return process


# --------------------------------------------------------------------------- load

@dataclass
class Sample:
    step: str
    op: str
    seconds: float
    status: int | None  # None: no response (connection error, timeout)
    error: str | None = None
    resent: int = 0  # sent again after its connection closed unanswered
    began: float = 0.0  # time.monotonic() when it was sent


@dataclass
class Acknowledged:
    comments: list[int] = field(default_factory=list)
    favorites: set[tuple[str, str]] = field(default_factory=set)
    posts: list[str] = field(default_factory=list)


OPS = (  # (name, weight)
    ("site home", 15), ("site post", 20), ("api list", 15), ("api post", 5), ("api comments", 5),
    ("create comment", 20), ("favorite", 10), ("new post", 5),
)


class Load:
    """``clients`` concurrent clients, each signed in as a demo user, together sending
    at most ``rate`` requests a second (each waits for its answer before the next,
    and for its next slot in the schedule)."""

    def __init__(self, base_url: str, users: list[tuple[str, str]], slugs: list[str], *,
                 clients: int = 8, rate: float = 40.0, seed: int = 12) -> None:
        self.base_url = base_url
        self.users = users
        self.slugs = slugs
        self.clients = clients
        self.interval = clients / rate
        self.rng = random.Random(seed)
        self.step = "start"
        self.samples: list[Sample] = []
        self.acked = Acknowledged()
        self.comment_ids_seen: list[int] = []
        self.crashed: BaseException | None = None  # a client's unexpected error
        self._stop = asyncio.Event()
        self._counted = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        for i in range(self.clients):
            self._tasks.append(asyncio.get_running_loop().create_task(self._client(i)))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=self.crashed is not None)

    def in_step(self, step: str) -> list[Sample]:
        return [s for s in self.samples if s.step == step]

    async def wait_for_requests(self, step: str, count: int) -> None:
        """Until ``count`` responses of requests begun in ``step`` are in (or a client broke)."""
        async with self._counted:
            await self._counted.wait_for(lambda: len(self.in_step(step)) >= count or self.crashed is not None)
        if self.crashed is not None:
            raise RuntimeError("a load client stopped") from self.crashed

    async def _client(self, index: int) -> None:
        try:
            await self._requests(index)
        except BaseException as exc:
            async with self._counted:
                self.crashed = exc
                self._counted.notify_all()
            raise

    async def _requests(self, index: int) -> None:
        token, username = self.users[index % len(self.users)]
        rng = random.Random(self.rng.random())
        names, weights = zip(*OPS)
        # No keep-alive: each request is a new connection, accepted by whichever
        # worker (old or new release) takes it from the shared socket.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60.0, limits=limits,
                                     headers={"Authorization": f"Token {token}"}) as api, \
                httpx.AsyncClient(base_url=self.base_url, timeout=60.0, limits=limits) as site:
            next_at = time.monotonic() + rng.random() * self.interval
            n = 0
            while not self._stop.is_set():
                delay = next_at - time.monotonic()
                if delay > 0:
                    try:  # pacing: the load is bounded in rate, not only in concurrency
                        await asyncio.wait_for(self._stop.wait(), delay)
                        return
                    except TimeoutError:
                        pass
                next_at = max(next_at + self.interval, time.monotonic())
                n += 1
                await self._one(rng.choices(names, weights)[0], api, site, rng, f"{username}-{index}-{n}", username)

    async def _one(self, op: str, api: httpx.AsyncClient, site: httpx.AsyncClient, rng: random.Random,
                   unique: str, username: str) -> None:
        step = self.step
        slug = rng.choice(self.slugs)
        send = {
            "site home": lambda: site.get("/", params={"page": rng.randint(1, 5)}),
            "site post": lambda: site.get(f"/posts/{slug}"),
            "api list": lambda: api.get("/api/articles", params={"limit": 10, "offset": rng.randint(0, 100)}),
            "api post": lambda: api.get(f"/api/articles/{slug}"),
            "api comments": lambda: api.get(f"/api/articles/{slug}/comments"),
            "create comment": lambda: api.post(f"/api/articles/{slug}/comments", json={"comment": {
                "body": f"Live comment {unique} " + "x" * rng.randint(0, 80)}}),
            "favorite": lambda: api.post(f"/api/articles/{slug}/favorite"),
            "new post": lambda: api.post("/api/articles", json={"article": {
                "title": f"Live post {unique}", "description": "written during a migration",
                "body": "Deployed while the schema changed.", "tagList": ["live", "deploy"]}}),
        }[op]
        began = time.perf_counter()
        began_at = time.monotonic()
        status, error, resent = None, None, 0
        while True:
            try:
                response = await send()
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                # The connection was closed with no byte of an answer: a stopping hypercorn
                # closes the connections it accepted but has not read a request from yet
                # (it treats them as idle), so the request never reached the app.  A client
                # (or a proxy) sends it again on a new connection; counted as "resent".
                if resent < RESENDS:
                    resent += 1
                    continue
                error = f"{type(exc).__name__}: {exc}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status >= 500:
                    error = response.text[:200]
                elif op == "create comment" and status == 200:
                    self.acked.comments.append(response.json()["comment"]["id"])
                elif op == "favorite" and status == 200:
                    self.acked.favorites.add((username, slug))
                elif op == "new post" and status == 201:
                    self.acked.posts.append(response.json()["article"]["slug"])
            break
        seconds = time.perf_counter() - began
        async with self._counted:
            self.samples.append(Sample(step, op, seconds, status, error, resent, began_at))
            self._counted.notify_all()


# --------------------------------------------------------------------------- figures

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


@dataclass
class StepFigures:
    step: str
    seconds: float
    requests: int
    writes: int
    failed: int
    client_errors: int
    resent: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, step: str, seconds: float, samples: list[Sample]) -> "StepFigures":
        ms = [s.seconds * 1000 for s in samples]
        return cls(step, seconds, len(samples),
                   sum(1 for s in samples if s.op in ("create comment", "favorite", "new post")),
                   sum(1 for s in samples if s.status is None or s.status >= 500),
                   sum(1 for s in samples if s.status is not None and 400 <= s.status < 500),
                   sum(1 for s in samples if s.resent),
                   percentile(ms, 50), percentile(ms, 99), max(ms) if ms else float("nan"))


def table(figures: list[StepFigures]) -> str:
    lines = [f"{'step':<24} {'s':>6} {'requests':>8} {'writes':>6} {'failed':>6} {'4xx':>4} {'resent':>6} "
             f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
    for f in figures:
        lines.append(f"{f.step:<24} {f.seconds:>6.1f} {f.requests:>8} {f.writes:>6} {f.failed:>6} "
                     f"{f.client_errors:>4} {f.resent:>6} {f.p50_ms:>8.1f} {f.p99_ms:>8.1f} {f.max_ms:>8.1f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the deployment

@dataclass
class Outcome:
    figures: list[StepFigures]
    acked: Acknowledged
    found: dict[str, int]
    column_checks: dict[str, int]
    failures: list[Sample]
    client_errors: list[Sample]
    server_problems: list[str]
    migration_log: list[str]

    def report(self, title: str) -> str:
        total = sum(f.requests for f in self.figures)
        return "\n".join([
            title, table(self.figures),
            f"requests {total}, failed {len(self.failures)}, 4xx {len(self.client_errors)}; acknowledged writes: "
            f"{len(self.acked.comments)} comments (found {self.found['comments']}), "
            f"{len(self.acked.favorites)} favorites (found {self.found['favorites']}), "
            f"{len(self.acked.posts)} posts (found {self.found['posts']})",
            "comments with a wrong or missing length: " + ", ".join(f"{k} {v}" for k, v in self.column_checks.items()),
        ])


def _char_length(engine: AsyncEngine):
    return func.length if engine.dialect.name == "sqlite" else func.char_length


async def wrong_lengths(engine: AsyncEngine, column: str) -> int:
    length = _char_length(engine)(Comment.body)
    values = literal_column(column)
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(Comment.__table__).where(
            or_(values.is_(None), values != length)))


async def _found(engine: AsyncEngine, acked: Acknowledged) -> dict[str, int]:
    found = {"comments": 0, "posts": 0, "favorites": 0}
    async with engine.connect() as conn:
        ids = sorted(set(acked.comments))
        for i in range(0, len(ids), 500):
            found["comments"] += await conn.scalar(
                select(func.count()).select_from(Comment).where(Comment.id.in_(ids[i:i + 500])))
        slugs = sorted(set(acked.posts))
        for i in range(0, len(slugs), 500):
            found["posts"] += await conn.scalar(select(func.count()).select_from(Post).where(Post.slug.in_(slugs[i:i + 500])))
        users = sorted({u for u, _ in acked.favorites})
        if users:
            rows = await conn.execute(select(User.username, Post.slug).select_from(favorites)
                                      .join(User, User.id == favorites.c.user_id)
                                      .join(Post, Post.id == favorites.c.post_id)
                                      .where(User.username.in_(users)))
            stored = {(u, s) for u, s in rows}
            found["favorites"] = len(acked.favorites & stored)
    return found


async def load_users(base_url: str, engine: AsyncEngine, count: int) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        emails = (await conn.scalars(select(User.email).where(User.email.like("user%@example.com"))
                                     .order_by(User.id).limit(count))).all()
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        users = []
        for email in emails:
            response = await client.post("/api/users/login", json={"user": {"email": email, "password": PASSWORD}})
            assert response.status_code == 200, response.text
            user = response.json()["user"]
            users.append((user["token"], user["username"]))
    return users


async def public_slugs(engine: AsyncEngine, count: int = 300) -> list[str]:
    from quartblog.services.posts import public_condition
    from quartblog.types import utcnow

    async with engine.connect() as conn:
        return list((await conn.scalars(select(Post.slug).where(public_condition(utcnow()))
                                        .order_by(Post.id.desc()).limit(count))).all())


async def deploy_under_load(url: str, engine: AsyncEngine, logs: Path, *, clients: int = 8, rate: float = 40.0,
                            step_requests: int = 150, downgrade: bool = True) -> Outcome:
    """The whole deployment (and its way back) under load.  The database must be at
    the project's head with data; it is brought to ``live_legacy`` first (step 0)."""
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "QUARTBLOG_DATABASE_URL": url,
           "QUARTBLOG_SECRET_KEY": "live-migration-secret-key-0123456789abcdef",
           "QUARTBLOG_AUTH_RATE_LIMIT_PER_MINUTE": "0", "PYTHONUNBUFFERED": "1"}
    migrations: list[str] = []

    async def migrate(command: str, revision: str) -> None:
        process = await alembic(command, revision, env, logs)
        migrations.extend(line for line in process.lines if line.startswith("[migration"))

    log(f"step 0: alembic upgrade {LEGACY} (the old release's column), before the load")
    await migrate("upgrade", LEGACY)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    old = Release("old-release", "tests.live_migration.releases:release1", listener, env, logs)
    new = Release("new-release", "tests.live_migration.releases:release2", listener, env, logs)
    running: list[Release] = []
    releases = [old, new]
    figures: list[StepFigures] = []
    load: Load | None = None
    column_checks: dict[str, int] = {}
    try:
        await old.start()
        running.append(old)
        load = Load(base_url, await load_users(base_url, engine, clients), await public_slugs(engine),
                    clients=clients, rate=rate)
        load.start()

        async def step(name: str, action) -> None:
            log(f"step: {name}")
            load.step = name
            began = time.monotonic()
            if action is not None:
                await action()
            await load.wait_for_requests(name, step_requests)
            figures.append(StepFigures.of(name, time.monotonic() - began, load.in_step(name)))
            log(table(figures[-1:]).splitlines()[1])
            slowest = sorted(load.in_step(name), key=lambda s: s.seconds)[-3:]
            log("  slowest: " + "; ".join(f"{s.op} at +{s.began - began:.1f} s: {s.seconds:.2f} s"
                                          f"{f' (resent {s.resent})' if s.resent else ''}" for s in slowest))

        async def takeover(start: Release, stop: Release) -> None:
            began = time.monotonic()
            await start.start()  # both releases serve from here on
            running.append(start)
            log(f"  {start.name} serves beside {stop.name} (+{time.monotonic() - began:.1f} s)")
            await load.wait_for_requests(load.step, step_requests // 2)
            stopping = time.monotonic()
            await stop.stop()
            running.remove(stop)
            log(f"  {stop.name} stopped (SIGTERM at +{stopping - began:.1f} s, exited after "
                f"{time.monotonic() - stopping:.1f} s)")

        await step("old release serves", None)
        await step("expand", lambda: migrate("upgrade", EXPAND))
        await step("new release takes over", lambda: takeover(new, old))
        await step("contract", lambda: migrate("upgrade", CONTRACT))
        column_checks["after contract: body_chars"] = await wrong_lengths(engine, "body_chars")
        await step("new release serves", None)
        if downgrade:
            await step("contract down", lambda: migrate("downgrade", EXPAND))
            await step("old release takes back", lambda: takeover(old, new))
            await step("expand down", lambda: migrate("downgrade", LEGACY))
            await step("old release serves again", None)
            column_checks["after expand down: chars"] = await wrong_lengths(engine, "chars")
        await load.stop()
        load_done = load
        load = None
    finally:
        if load is not None:
            await load.stop()
        for release in list(running):
            try:
                async with asyncio.timeout(GRACEFUL_TIMEOUT + 30):
                    await release.stop()
            except BaseException:
                release.kill()
                raise
        listener.close()
    samples = load_done.samples
    return Outcome(
        figures=figures, acked=load_done.acked, found=await _found(engine, load_done.acked),
        column_checks=column_checks,
        failures=[s for s in samples if s.status is None or s.status >= 500],
        client_errors=[s for s in samples if s.status is not None and 400 <= s.status < 500],
        server_problems=[p for r in releases for p in r.problems()], migration_log=migrations)
