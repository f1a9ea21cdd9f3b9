"""Statements that may read much of a table, a crowd of them at once (a search for a word
in nearly every post, issue 22): ``StatementLimit`` lets at most ``concurrency`` of them
run at once in this process (waiting at most ``wait`` seconds for a slot, else
``TooManyAtOnce``), each stopped by the database after ``timeout`` seconds, a limit
lower than the pages' ``DB_STATEMENT_TIMEOUT``.  Both are answered 503 with Retry-After
(``web/errors.py``: ``TooManyAtOnce``; a statement out of time is ``is_busy``).

The time limit is set for the statements inside the block only:

* MariaDB: ``SET STATEMENT max_statement_time=N FOR SELECT ...`` (MySQL: the optimizer
  hint ``SELECT /*+ MAX_EXECUTION_TIME(ms) */``), written into each SELECT by an engine
  event (``limit_selects``) while the block runs: no round trip more;
* PostgreSQL: ``SET LOCAL statement_timeout`` before, ``... TO DEFAULT`` after (the
  connection's own limit);
* SQLite has no server to stop a statement: a progress handler on the connection
  interrupts it (``SQLITE_INTERRUPT``) once the time is up.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..types import MYSQL_DIALECTS

# The time limit (seconds) of the SELECTs the current task runs on MySQL/MariaDB.
_select_limit: ContextVar[float | None] = ContextVar("quartblog_select_limit", default=None)
SQLITE_PROGRESS_STEPS = 1000  # virtual machine instructions between two looks at the clock


class TooManyAtOnce(RuntimeError):
    """Every slot of a ``StatementLimit`` stayed taken for its whole wait."""

    def __init__(self, what: str) -> None:
        super().__init__(f"too many {what} at once")
        self.what = what


def limit_selects(conn, _cursor, statement: str, parameters, _context, _executemany):
    """``before_cursor_execute`` (retval) of MySQL/MariaDB engines: a SELECT run inside
    ``statement_timeout`` carries its time limit."""
    seconds = _select_limit.get()
    if not seconds or statement.lstrip()[:6].upper() != "SELECT":
        return statement, parameters
    if conn.dialect.is_mariadb:
        return f"SET STATEMENT max_statement_time={seconds:.3f} FOR {statement}", parameters
    start = statement.upper().index("SELECT") + len("SELECT")
    return f"{statement[:start]} /*+ MAX_EXECUTION_TIME({max(1, int(seconds * 1000))}) */{statement[start:]}", parameters


@asynccontextmanager
async def statement_timeout(session: AsyncSession, seconds: float) -> AsyncIterator[None]:
    """The statements ``session`` runs inside the block stop after ``seconds`` (0: the
    engine's own limit only).  See the module for each database."""
    if not seconds or seconds <= 0:
        yield
        return
    dialect = session.get_bind().dialect.name
    if dialect in MYSQL_DIALECTS:
        token = _select_limit.set(seconds)
        try:
            yield
        finally:
            _select_limit.reset(token)
    elif dialect == "postgresql":
        await session.execute(text(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}"))
        yield  # after an error the transaction is over, and the setting with it
        await session.execute(text("SET LOCAL statement_timeout TO DEFAULT"))
    elif dialect == "sqlite":
        raw = await (await session.connection()).get_raw_connection()
        connection = raw.driver_connection  # aiosqlite's: the handler runs in its thread
        deadline = time.monotonic() + seconds
        await connection.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_PROGRESS_STEPS)
        try:
            yield
        finally:
            await connection.set_progress_handler(None, 0)
    else:
        yield


class StatementLimit:
    """At most ``concurrency`` blocks at once in this process (0: no limit), a slot
    waited for at most ``wait`` seconds, the statements inside stopped after
    ``timeout`` seconds (0: the engine's own limit)."""

    def __init__(self, what: str, *, concurrency: int, wait: float, timeout: float) -> None:
        self.what = what
        self.concurrency = max(0, int(concurrency))
        self.wait = max(0.0, float(wait))
        self.timeout = max(0.0, float(timeout))
        self.slots = asyncio.Semaphore(self.concurrency) if self.concurrency else None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the slots, or ``TooManyAtOnce`` after ``wait`` seconds without one."""
        if self.slots is None:
            yield
            return
        if self.slots.locked() and not self.wait:
            raise TooManyAtOnce(self.what)
        try:
            async with asyncio.timeout(self.wait):
                await self.slots.acquire()
        except TimeoutError:
            raise TooManyAtOnce(self.what) from None
        try:
            yield
        finally:
            self.slots.release()

    @asynccontextmanager
    async def __call__(self, session: AsyncSession) -> AsyncIterator[None]:
        async with self.slot(), statement_timeout(session, self.timeout):
            yield
