"""The last mile of online schema changes, under live traffic (issue 22): quartblog serves
(hypercorn, 2 workers) under the bounded load of ``scenario.py`` while

1. ``alembic upgrade osc_columns`` adds two columns to ``posts``: on MariaDB through
   pt-online-schema-change (``online.add_column(..., via="pt-osc")``: shadow table,
   triggers, chunked copy, atomic rename), elsewhere the backend's online path.  On
   MariaDB each of the two runs is held after its copy, before its swap (a test plugin,
   ``pt_osc_hold.pm``) until writes have been acknowledged meanwhile: they reach the new
   table through the tool's triggers only;
2. ``alembic upgrade osc_backfill`` (``update_in_batches``, batches of 20) is killed with
   SIGKILL inside a batch, from its ``PAUSED`` progress line (that batch's UPDATE done, not
   committed), while the load runs;
3. the same command runs again and finishes.

Every response is recorded; at the end every acknowledged write is looked up, and the
posts are counted: none written twice by the backfill (``backfill_runs > 1``), none left
that existed before the rerun.  Used by tests/test_live_pt_osc.py (small data); the
sizes are arguments, for a bigger run by hand (docs/migrations.md, "pt-online-schema-change").
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine

from quartblog.models import Post

from .scenario import (GRACEFUL_TIMEOUT, PROJECT_ROOT, Acknowledged, Load, Process, Release, Sample, StepFigures,
                       _found, load_users, log, public_slugs, table)

HERE = Path(__file__).resolve().parent
OSC_INI = HERE / "osc.ini"
COLUMNS, BACKFILL = "osc_columns", "osc_backfill"
WRITES = ("create comment", "favorite", "new post")


class PipedProcess(Process):
    """A ``Process`` whose standard input is a pipe (the paused backfill waits on it)."""

    async def start(self, argv: list[str], env: dict[str, str], pass_fds: tuple[int, ...] = ()) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=env, cwd=PROJECT_ROOT, start_new_session=True)
        self._reader = asyncio.get_running_loop().create_task(self._read(self.process.stdout))


def alembic_argv(command: str, revision: str) -> list[str]:
    return [sys.executable, "-m", "alembic", "-c", str(OSC_INI), command, revision]


@dataclass
class OscOutcome:
    figures: list[StepFigures]
    acked: Acknowledged
    found: dict[str, int]
    failures: list[Sample]
    client_errors: list[Sample]
    server_problems: list[str]
    pt_osc: bool  # the columns went through pt-online-schema-change
    writes_during_copy: dict[str, int]  # acknowledged while the copy was held (MariaDB)
    copy_log: list[str]
    paused_line: str
    killed_code: int | None
    rerun_finished: str
    posts: dict[str, int] = field(default_factory=dict)  # counts at the end

    def report(self, title: str) -> str:
        total = sum(f.requests for f in self.figures)
        return "\n".join([
            title, table(self.figures),
            f"requests {total}, failed {len(self.failures)}, 4xx {len(self.client_errors)}; acknowledged writes: "
            f"{len(self.acked.comments)} comments (found {self.found['comments']}), "
            f"{len(self.acked.favorites)} favorites (found {self.found['favorites']}), "
            f"{len(self.acked.posts)} posts (found {self.found['posts']})",
            f"columns through pt-osc: {self.pt_osc}; writes acknowledged while the copy was held: "
            f"{self.writes_during_copy}",
            f"killed at: {self.paused_line} (exit {self.killed_code}); rerun: {self.rerun_finished}",
            "posts: " + ", ".join(f"{k} {v}" for k, v in self.posts.items()),
        ])


async def _post_counts(engine: AsyncEngine, existed_before_rerun: int) -> dict[str, int]:
    runs, minutes = literal_column("backfill_runs"), literal_column("reading_minutes")
    async with engine.connect() as conn:
        def count(*where):
            return conn.scalar(select(func.count()).select_from(Post.__table__).where(*where))
        return {"total": await count(),
                "written twice": await count(runs > 1),
                "left to do (existed before the rerun)": await count(minutes.is_(None), Post.id <= existed_before_rerun),
                "written once": await count(runs == 1)}


async def deploy_pt_osc_under_load(url: str, engine: AsyncEngine, backend: str, logs: Path, *, clients: int = 6,
                                   rate: float = 30.0, step_requests: int = 60, held_writes: int = 6,
                                   batch_size: int = 20, kill_at_batch: int = 3) -> OscOutcome:
    """The database must be at the project's head, with data."""
    logs.mkdir(parents=True, exist_ok=True)
    mariadb = backend in ("asyncmy", "aiomysql")
    hold_fifo = logs / "pt-osc.hold"
    os.mkfifo(hold_fifo)
    env = {**os.environ, "QUARTBLOG_DATABASE_URL": url,
           "QUARTBLOG_SECRET_KEY": "live-migration-secret-key-0123456789abcdef",
           "QUARTBLOG_AUTH_RATE_LIMIT_PER_MINUTE": "0", "PYTHONUNBUFFERED": "1",
           # Small chunks (several on 300 posts), and the hold after the copy.
           "QUARTBLOG_PT_OSC_OPTIONS": f"--chunk-time=0 --chunk-size=100 --plugin={HERE / 'pt_osc_hold.pm'}",
           "QUARTBLOG_TEST_HOLD_FIFO": str(hold_fifo)}
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    release = Release("release", "quartblog:app", listener, env, logs)
    figures: list[StepFigures] = []
    load: Load | None = None
    started = False
    details: dict[str, object] = {"writes_during_copy": {}, "copy_log": [], "paused_line": "", "killed_code": None,
                                  "rerun_finished": "", "existed_before_rerun": 0}
    try:
        await release.start()
        started = True
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

        async def writes_answered_since(since: float, count: int) -> None:
            def enough() -> bool:
                return sum(1 for s in load.samples if s.op in WRITES and s.began >= since) >= count \
                    or load.crashed is not None
            async with load._counted:
                await load._counted.wait_for(enough)

        async def columns() -> None:
            process = Process("alembic upgrade osc_columns", logs / "alembic.log")
            await process.start(alembic_argv("upgrade", COLUMNS), env)
            during: list[Sample] = []
            if mariadb:
                for run in (1, 2):  # one pt-osc run per column
                    await process.wait_for(r"HELD after the copy", count=run)
                    held = time.monotonic()
                    await writes_answered_since(held, held_writes)
                    released = time.monotonic()
                    during += [s for s in load.samples if s.op in WRITES and s.began >= held
                               and s.began + s.seconds <= released]
                    fifo = os.open(hold_fifo, os.O_WRONLY | os.O_NONBLOCK)  # the plugin holds it open
                    os.write(fifo, b"x")
                    os.close(fifo)
                details["writes_during_copy"] = {op: sum(1 for s in during if s.op == op and s.status in (200, 201))
                                                 for op in WRITES}
            code = await process.wait()
            assert code == 0, f"alembic upgrade {COLUMNS} failed ({code}):\n{process.tail()}"
            details["copy_log"] = [line for line in process.lines if line.startswith("[pt-osc]")]

        async def killed_backfill() -> None:
            process = PipedProcess("alembic upgrade osc_backfill (killed)", logs / "alembic.log")
            await process.start(alembic_argv("upgrade", BACKFILL),
                                {**env, "OSC_PAUSE_AT_BATCH": str(kill_at_batch), "OSC_BATCH_SIZE": str(batch_size)})
            details["paused_line"] = await process.wait_for(r"^PAUSED ")
            process.process.send_signal(signal.SIGKILL)  # inside the batch: its UPDATE is not committed
            details["killed_code"] = await process.wait()

        async def rerun() -> None:
            async with engine.connect() as conn:
                details["existed_before_rerun"] = await conn.scalar(select(func.max(Post.id)))
            process = Process("alembic upgrade osc_backfill (again)", logs / "alembic.log")
            await process.start(alembic_argv("upgrade", BACKFILL), {**env, "OSC_BATCH_SIZE": str(batch_size)})
            code = await process.wait()
            assert code == 0, f"alembic upgrade {BACKFILL} failed ({code}):\n{process.tail()}"
            details["rerun_finished"] = next((line for line in process.lines if "(finished)" in line), "")
            details["rerun_started"] = next((line for line in process.lines if "(starting" in line), "")

        await step("serves", None)
        await step("posts columns" + (" (pt-osc)" if mariadb else ""), columns)
        await step("backfill killed", killed_backfill)
        await step("backfill again", rerun)
        await step("serves after", None)
        await load.stop()
        load_done, load = load, None
    finally:
        if load is not None:
            await load.stop()
        if started:
            try:
                async with asyncio.timeout(GRACEFUL_TIMEOUT + 30):
                    await release.stop()
            except BaseException:
                release.kill()
                raise
        listener.close()
    samples = load_done.samples
    copy_log: list[str] = details["copy_log"]  # type: ignore[assignment]
    return OscOutcome(
        figures=figures, acked=load_done.acked, found=await _found(engine, load_done.acked),
        failures=[s for s in samples if s.status is None or s.status >= 500],
        client_errors=[s for s in samples if s.status is not None and 400 <= s.status < 500],
        server_problems=release.problems(),
        pt_osc=any(re.search(r"Successfully altered .*posts", line) for line in copy_log),
        writes_during_copy=details["writes_during_copy"], copy_log=copy_log,  # type: ignore[arg-type]
        paused_line=details["paused_line"], killed_code=details["killed_code"],  # type: ignore[arg-type]
        rerun_finished=details["rerun_finished"],  # type: ignore[arg-type]
        posts=await _post_counts(engine, details["existed_before_rerun"]))  # type: ignore[arg-type]
