"""Real servers started by a test: a private MariaDB (its own datadir, socket and
port, never the machine's shared server) and ``hypercorn quartblog:app``.

Readiness is event-driven: each server's log is read line by line as it is
written, and a test waits for the line that says the server is ready (bounded
by a deadline), never for a fixed time.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from .conftest import IN_CI

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mariadb_programs() -> tuple[str, str] | None:
    """``mariadbd`` and ``mariadb-install-db``, or None when either is missing."""
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin")
    install = shutil.which("mariadb-install-db")
    return (server, install) if server and install else None


def require_mariadb_programs(pytest) -> tuple[str, str]:
    programs = mariadb_programs()
    if programs is None:
        message = "mariadbd / mariadb-install-db not installed: the outage test needs its own MariaDB server"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: it must run)", pytrace=False)
        pytest.skip(message)
    return programs


class LoggedProcess:
    """A subprocess whose output (stdout and stderr merged) is kept, line by line,
    in memory and in a file; ``wait_for`` waits for a line matching a pattern."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._changed = asyncio.Condition()

    async def start(self, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None,
                    user: str | None = None, pass_fds: Sequence[int] = (), new_session: bool = False) -> None:
        """``pass_fds``: descriptors the child keeps (a listening socket); ``new_session``:
        its own process group, so that a failed run can end it whole."""
        self.process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=env, cwd=cwd, user=user, pass_fds=tuple(pass_fds),
            start_new_session=new_session)
        self._reader = asyncio.get_running_loop().create_task(self._read(self.process.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        with self.log_path.open("a", encoding="utf-8") as log:
            while True:
                raw = await stream.readline()
                async with self._changed:
                    if raw:
                        line = raw.decode("utf-8", "replace").rstrip("\n")
                        self.lines.append(line)
                        log.write(line + "\n")
                        log.flush()
                    self._changed.notify_all()
                if not raw:
                    return

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def wait_for(self, pattern: str, *, start: int = 0, count: int = 1,
                       timeout: float = START_TIMEOUT) -> str:
        """The ``count``-th line from index ``start`` on that matches ``pattern``."""
        regex = re.compile(pattern)
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    while True:
                        for line in self.lines[start:]:
                            if regex.search(line):
                                count -= 1
                                if count == 0:
                                    return line
                        start = len(self.lines)
                        if self._reader is None or self._reader.done():
                            raise AssertionError(f"{self.name} ended before logging {pattern!r}:\n" + self.tail())
                        await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{self.name} did not log {pattern!r} within {timeout} s:\n" + self.tail()) from None

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        return sum(1 for line in self.lines if regex.search(line))

    async def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.running:
            self.process.send_signal(sig)
        await self.wait()

    async def wait(self) -> int | None:
        """The exit status, once the process has ended and its output is read."""
        code = await self.process.wait() if self.process is not None else None
        if self._reader is not None:
            await self._reader
        return code


class PrivateMariaDB:
    """A MariaDB server of the test's own, on a free port, in a temporary datadir.
    ``kill()`` is a crash (SIGKILL); ``start()`` again reuses the datadir and port."""

    def __init__(self, root: Path, programs: tuple[str, str]) -> None:
        self.root = root
        self.server, self.install_db = programs
        self.datadir = root / "data"
        self.socket = root / "mariadb.sock"
        self.port = free_port()
        self.process: LoggedProcess | None = None
        self.starts = 0

    def url(self, driver: str = "asyncmy", database: str = "quartblog") -> str:
        return f"mysql+{driver}://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    async def install(self) -> None:
        installer = LoggedProcess("mariadb-install-db", self.root / "install.log")
        argv = [self.install_db, "--no-defaults", f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal", "--skip-test-db"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        await installer.start(argv)
        await installer.wait()
        assert installer.process.returncode == 0, installer.tail()

    async def start(self) -> None:
        self.starts += 1
        self.process = LoggedProcess(f"mariadbd ({self.root})", self.root / "mariadbd.log")
        argv = [self.server, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
                f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-grant-tables",
                f"--pid-file={self.root / 'mariadbd.pid'}", "--innodb-buffer-pool-size=32M",
                "--performance-schema=OFF", "--skip-log-bin", "--max-connections=200"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        await self.process.start(argv)
        await self.process.wait_for(r"ready for connections")

    async def kill(self) -> None:
        if self.process is not None:
            await self.process.kill()

    async def create_database(self, name: str = "quartblog") -> None:
        client = LoggedProcess("mariadb", self.root / "client.log")
        await client.start(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot",
                            "-e", f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"])
        await client.wait()
        assert client.process.returncode == 0, client.tail()


POSTGRES_BIN = Path(os.environ.get("QUARTBLOG_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def require_postgres_programs(pytest) -> Path:
    missing = [p for p in ("initdb", "postgres", "psql") if not (POSTGRES_BIN / p).exists()]
    message = None
    if missing:
        message = f"{', '.join(missing)} not in {POSTGRES_BIN}: the outage test needs its own PostgreSQL server"
    else:
        try:
            import asyncpg  # noqa: F401
        except ImportError:
            message = "asyncpg is not installed: no PostgreSQL outage test"
    if message:  # the PostgreSQL variant is extra: skipped, even in CI, when it cannot run
        pytest.skip(message)
    return POSTGRES_BIN


class PrivatePostgres:
    """A PostgreSQL server of the test's own (initdb in a temporary directory, trust
    authentication, a free port), run as the ``postgres`` user when started as root.
    ``kill()`` is an immediate shutdown (SIGQUIT: no checkpoint, crash recovery at
    the next start); ``start()`` again reuses the data directory and port."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # not under pytest's tmp_path: that is private to root, and the server runs as postgres
        self.root = Path(tempfile.mkdtemp(prefix="quartblog-pg-"))
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.datadir = self.root / "data"
        self.port = free_port()
        self.process: LoggedProcess | None = None

    def url(self, driver: str = "asyncpg", database: str = "quartblog") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    async def _run(self, name: str, argv: list[str]) -> None:
        process = LoggedProcess(name, self.root / f"{name}.log")
        await process.start(argv, user=self.user, cwd=self.root)
        await process.wait()
        assert process.process.returncode == 0, process.tail()

    async def install(self) -> None:
        await self._run("initdb", [str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
                                   "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])

    async def start(self) -> None:
        self.process = LoggedProcess("postgres", self.root / "postgres.log")
        await self.process.start(
            [str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port), "-k", str(self.root),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "shared_buffers=16MB",
             "-c", "max_connections=100"], user=self.user, cwd=self.root)
        await self.process.wait_for(r"database system is ready to accept connections")

    async def kill(self) -> None:
        if self.process is not None:
            await self.process.kill(signal.SIGQUIT)

    async def create_database(self, name: str = "quartblog") -> None:
        await self._run("psql", [str(self.bindir / "psql"), "-h", str(self.root), "-p", str(self.port),
                                 "-U", "postgres", "-c", f"CREATE DATABASE {name}"])

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class Hypercorn:
    """``hypercorn quartblog:app`` (one worker) in a subprocess, configured by environment."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.process = LoggedProcess("hypercorn", root / "hypercorn.log")

    async def start(self) -> None:
        await self.process.start(
            [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
             "quartblog:app"], env=self.env, cwd=PROJECT_ROOT)
        await self.process.wait_for(r"Running on http://127\.0\.0\.1")

    async def stop(self) -> None:
        await self.process.kill(signal.SIGTERM)
