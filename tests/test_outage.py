"""The database goes down and comes back, under a real server and real load.

Each test starts a MariaDB server of its own (a temporary datadir, a free port:
never the machine's shared server) and ``hypercorn quartblog:app`` against it,
then kills the database (SIGKILL, a crash) and starts it again on the same datadir
and port.  While it is down, every request that needs it is answered 503 with
Retry-After (never 500), ``/healthz`` stays 200 and ``/readyz`` says 503; once it
is back, requests succeed again without restarting hypercorn; and hypercorn's log
holds one warning per outage and one line at recovery, with no traceback.

Select with ``-m outage``.  MariaDB: skipped without mariadbd / mariadb-install-db
(failed instead with CI=true).  PostgreSQL (a variant): skipped without its
programs (/usr/lib/postgresql/15/bin, or QUARTBLOG_TEST_PG_BIN) or asyncpg.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from .conftest import TEST_SECRET
from .servers import (PROJECT_ROOT, Hypercorn, PrivateMariaDB, PrivatePostgres, require_mariadb_programs,
                      require_postgres_programs)

pytestmark = pytest.mark.outage

DEADLINE = 60.0
UNAVAILABLE_LINE = r"WARNING .*database .* (is unavailable|cannot be reached)"
RECOVERED_LINE = r"INFO .*database .* is back"


@pytest.fixture(params=["mariadb", "postgresql"])
async def database_server(request, tmp_path):
    """A running database server of the test's own, with an empty ``quartblog`` database."""
    if request.param == "mariadb":
        server = PrivateMariaDB(tmp_path, require_mariadb_programs(pytest))
    else:
        server = PrivatePostgres(require_postgres_programs(pytest))
    try:
        await server.install()
        await server.start()
        await server.create_database()
        yield server
    finally:
        await server.kill()
        if isinstance(server, PrivatePostgres):
            server.remove()


def app_env(server: PrivateMariaDB | PrivatePostgres, **extra: str) -> dict[str, str]:
    return {
        "QUARTBLOG_DATABASE_URL": server.url(),
        "QUARTBLOG_SECRET_KEY": TEST_SECRET,
        "QUARTBLOG_ENV": "testing",
        # every read goes to the database (the response cache would serve some)
        "QUARTBLOG_CACHE_ENABLED": "0",
        # the visit counter's background writes run during the outage too
        "QUARTBLOG_VIEW_COUNT_FLUSH_SECONDS": "0.2",
        "QUARTBLOG_DB_CONNECT_TIMEOUT": "2",
        **extra,
    }


@pytest.fixture
async def start_hypercorn(tmp_path):
    servers: list[Hypercorn] = []

    async def start(env: dict[str, str]) -> Hypercorn:
        server = Hypercorn(tmp_path, env)
        servers.append(server)
        await server.start()
        return server

    yield start
    for server in servers:
        await server.stop()


async def wait_until_status(client: httpx.AsyncClient, path: str, status: int) -> None:
    """Poll ``path`` until it answers ``status``, within the deadline."""
    async with asyncio.timeout(DEADLINE):
        while (await client.get(path)).status_code != status:
            pass


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    if response.url.path.startswith("/api") or response.url.path == "/readyz":
        assert response.json()["errors"]["body"][0]
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert "503" in response.text


@dataclass
class Answer:
    phase: str
    path: str
    status: int
    retry_after: str | None
    content_type: str


@dataclass
class Load:
    """A few loops of GET requests over ``paths``, each answer tagged with the phase
    in which its request started; bounded by ``limit`` requests in all."""

    client: httpx.AsyncClient
    paths: list[str]
    loops: int = 4
    limit: int = 20_000
    phase: str = "up"
    answers: list[Answer] = field(default_factory=list)
    stopped: bool = False

    def __post_init__(self) -> None:
        self._changed = asyncio.Condition()

    async def _loop(self, offset: int) -> None:
        i = offset
        while not self.stopped and len(self.answers) < self.limit:
            path = self.paths[i % len(self.paths)]
            i += 1
            phase = self.phase
            response = await self.client.get(path)
            async with self._changed:
                self.answers.append(Answer(phase, path, response.status_code, response.headers.get("Retry-After"),
                                           response.headers.get("content-type", "")))
                if response.status_code == 503:
                    assert_unavailable(response)
                self._changed.notify_all()

    async def until(self, status: int, count: int, phase: str, *, other_than: bool = False) -> None:
        """Wait until ``count`` answers of ``phase`` had ``status`` (or any other)."""
        async with asyncio.timeout(DEADLINE), self._changed:
            while sum(1 for a in self.answers if a.phase == phase and (a.status == status) != other_than) < count:
                assert len(self.answers) < self.limit, "request limit reached"
                await self._changed.wait()

    def statuses(self, phase: str | None = None) -> Counter:
        return Counter(a.status for a in self.answers if phase is None or a.phase == phase)

    async def __aenter__(self) -> "Load":
        self._tasks = [asyncio.get_running_loop().create_task(self._loop(i)) for i in range(self.loops)]
        return self

    async def __aexit__(self, *exc) -> None:
        self.stopped = True
        await asyncio.gather(*self._tasks)


async def seed(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/users", json={"user": {
        "username": "ada", "email": "ada@example.com", "password": "correct horse battery"}})
    assert response.status_code == 201, response.text
    token = response.json()["user"]["token"]
    response = await client.post("/api/articles", headers={"Authorization": f"Token {token}"}, json={
        "article": {"title": "Outage", "description": "d", "body": "b", "tagList": ["ops"]}})
    assert response.status_code == 201, response.text
    return response.json()["article"]["slug"]


async def test_an_outage_under_load_is_answered_503_and_recovers_without_a_restart(
        database_server, start_hypercorn, record_property):
    database = database_server
    app = await start_hypercorn(app_env(database, QUARTBLOG_AUTO_MIGRATE="1"))
    outages = 2
    async with httpx.AsyncClient(base_url=app.base_url, timeout=DEADLINE) as client:
        slug = await seed(client)
        paths = ["/api/articles", "/", f"/posts/{slug}", "/api/tags", f"/api/articles/{slug}"]
        async with Load(client, paths) as load:
            for n in range(1, outages + 1):
                load.phase = f"up{n}"
                await load.until(200, 20, f"up{n}")
                load.phase = f"killing{n}"
                await database.kill()
                load.phase = f"down{n}"
                await load.until(200, 50, f"down{n}", other_than=True)
                assert (await client.get("/healthz")).status_code == 200
                assert_unavailable(await client.get("/readyz"))
                await database.start()
                load.phase = f"restarting{n}"
                await wait_until_status(client, "/api/tags", 200)
                load.phase = f"back{n}"
                await load.until(200, 20, f"back{n}")
                assert (await client.get("/readyz")).status_code == 200
        load.phase = "end"
    await app.stop()

    log = app.process
    figures = {
        "requests": len(load.answers),
        "statuses": dict(load.statuses()),
        "unavailable warnings": log.count(UNAVAILABLE_LINE),
        "recovery lines": log.count(RECOVERED_LINE),
        "tracebacks": log.count(r"^Traceback"),
        "log lines": len(log.lines),
    }
    record_property("outage figures", figures)
    print(f"\noutage figures: {figures}")
    assert set(load.statuses()) <= {200, 503}, (figures, log.tail())
    for n in range(1, outages + 1):
        # only the requests in flight when the database was killed (one per loop) may fail
        assert load.statuses(f"up{n}")[503] <= load.loops
        assert load.statuses(f"back{n}") == {200: load.statuses(f"back{n}")[200]}
        assert load.statuses(f"down{n}")[503] >= 50
    assert all(a.retry_after for a in load.answers if a.status == 503)
    assert figures["unavailable warnings"] == outages, log.tail()
    assert figures["recovery lines"] == outages, log.tail()
    assert figures["tracebacks"] == 0, log.tail()


# (the alembic-upgrade path does not depend on the server: once, on MariaDB)
@pytest.mark.parametrize("database_server, auto_migrate", [
    ("mariadb", True), ("mariadb", False), ("postgresql", True),
], ids=["mariadb-auto-migrate", "mariadb-alembic-upgrade", "postgresql-auto-migrate"], indirect=["database_server"])
async def test_the_app_starts_while_the_database_is_down_and_serves_once_it_is_back(
        database_server, start_hypercorn, auto_migrate):
    database = database_server
    await database.kill()
    app = await start_hypercorn(app_env(database, QUARTBLOG_AUTO_MIGRATE="1" if auto_migrate else "0"))
    log = app.process
    await log.wait_for(UNAVAILABLE_LINE, timeout=5)
    async with httpx.AsyncClient(base_url=app.base_url, timeout=DEADLINE) as client:
        assert (await client.get("/healthz")).status_code == 200
        for path in ("/readyz", "/api/articles", "/", "/login"):
            assert_unavailable(await client.get(path))

        await database.start()  # an empty database: the schema check runs now
        if auto_migrate:
            await wait_until_status(client, "/readyz", 200)
        else:
            # behind: still refused, with the clear message, until someone upgrades it
            async with asyncio.timeout(DEADLINE):
                while "alembic upgrade head" not in (readyz := await client.get("/readyz")).text:
                    assert_unavailable(readyz)  # the database is still starting
            assert_unavailable(readyz)
            assert_unavailable(await client.get("/api/articles"))
            env = {**os.environ, "QUARTBLOG_DATABASE_URL": database.url()}
            alembic = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "alembic", "upgrade", "head", cwd=PROJECT_ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            output, _ = await alembic.communicate()
            assert alembic.returncode == 0, output.decode()
            await wait_until_status(client, "/readyz", 200)
        response = await client.get("/api/articles")
        assert response.status_code == 200
        assert response.json() == {"articles": [], "articlesCount": 0}
        assert (await client.get("/")).status_code == 200
    await app.stop()
    assert log.count(UNAVAILABLE_LINE) == 1, log.tail()
    assert log.count(r"^Traceback") == 0, log.tail()
    assert log.count(r"run `alembic upgrade head`") == (0 if auto_migrate else 1), log.tail()
