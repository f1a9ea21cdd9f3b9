"""An ``ALTER TABLE`` run through Percona's ``pt-online-schema-change`` (MariaDB/MySQL).

For the changes MariaDB cannot make in place without blocking writes: a column of
``posts``, whose FULLTEXT index rules out ``ALGORITHM=INSTANT`` and ``INPLACE, LOCK=NONE``
(docs/migrations.md, "Online DDL").  The tool creates an empty copy of the table, alters
the copy, installs triggers on the original so that every INSERT, UPDATE and DELETE made
meanwhile is repeated on the copy, copies the rows in chunks (pausing when the server is
busy), then swaps the two tables with one atomic ``RENAME TABLE`` and drops the old one.
Readers and writers go on throughout; only the trigger creation, the rename and the
child tables' foreign-key rebuild take the table's metadata lock, each for a moment.

Revisions do not call this module: they say ``online.add_column(..., via="pt-osc")``
(``online.py``), which comes here on MariaDB/MySQL and takes the backend's own online
path on PostgreSQL and SQLite.

Foreign keys that reference the table (``comments``, ``post_tags``, ``favorites`` reference
``posts.id``) follow the original table when it is renamed away, so they must be
re-pointed at the new one: ``--alter-foreign-keys-method rebuild_constraints`` (the only
safe choice: ``drop_swap`` drops the original before renaming the copy, so for a moment
there is no ``posts`` and every query of it fails, and a failed rename loses the table;
``auto`` may pick ``drop_swap``; ``none`` leaves the keys pointing at a dropped table).
It runs, after the swap, one ``ALTER TABLE child DROP FOREIGN KEY fk, ADD CONSTRAINT _fk
... REFERENCES posts (id)`` per child table.  With ``foreign_key_checks=0`` on the tool's
connection (``--no-check-foreign-keys``), MariaDB makes that ALTER in place and without
reading the child's rows (``ALGORITHM=INPLACE``, no copy of ``comments``); with the
checks on it would copy each child table with its writes blocked.  The child rows were
valid against the original table, and the copy holds every row of it, so nothing is
left unchecked.  The keys come back renamed (a leading ``_`` added, or removed on the
next run): name foreign keys of child tables in revisions with care, or look them up.

The subprocess: a migration runs inside SQLAlchemy's ``run_sync`` (env.py), in a greenlet
on the event loop's thread.  There the tool is run as an asyncio subprocess, awaited
through the greenlet (``await_only``): the event loop is not blocked while the copy runs
(the app's start-up migration shares its loop).  On a plain synchronous connection (no
greenlet) it is a blocking ``subprocess.Popen``, which blocks only that thread.  Its
output goes to standard output line by line, prefixed ``[pt-osc]``.

The password travels in a ``--defaults-file`` of mode 0600 (never on the command line,
where ``ps`` shows it).  ``QUARTBLOG_PT_OSC_OPTIONS`` adds options (``shlex`` syntax:
``--recursion-method=none``, ``--max-lag=5``, ``--pause-file=/run/osc.pause``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from typing import Sequence, TextIO

from sqlalchemy.engine import URL, Connection

TOOL = "pt-online-schema-change"
OPTIONS_ENV = "QUARTBLOG_PT_OSC_OPTIONS"
FOREIGN_KEYS_METHOD = "rebuild_constraints"
# Pause the copy while more than 25 threads run; give up above 100 (the tool's defaults
# are 25 and 50: two hypercorn workers' pools alone can reach 50 for a moment).
MAX_LOAD = "Threads_running=25"
CRITICAL_LOAD = "Threads_running=100"
CHUNK_TIME = "0.5"  # seconds a chunk should take (its size adjusts to it)
# The tool's own DDL (triggers, RENAME, the child ALTERs) waits for the metadata lock at
# most 2 s and is tried again: a long wait would queue every query of the table behind it.
SET_VARS = "lock_wait_timeout=2"
TRIES = "create_triggers:30:1,drop_triggers:30:1,swap_tables:30:1,update_foreign_keys:30:1"


class PtOscError(RuntimeError):
    """The tool is missing or failed (its output is in the message)."""


def dsn(url: URL, table: str) -> str:
    """``h=...,P=...,u=...,D=...,t=...`` (no password: see ``defaults_file``)."""
    parts = {"h": url.host or "localhost", "P": str(url.port or 3306), "u": url.username or "root",
             "D": url.database or "", "t": table}
    socket = url.query.get("unix_socket")
    if socket:
        parts["S"] = socket if isinstance(socket, str) else socket[0]
    for value in parts.values():
        if "," in value or "=" in value:
            raise PtOscError(f"{TOOL}: a DSN value may not contain ',' or '=': {value!r}")
    return ",".join(f"{key}={value}" for key, value in parts.items())


def command(url: URL, table: str, alter: str, *, defaults_file: str | None = None,
            extra: Sequence[str] = ()) -> list[str]:
    """The tool's command line for ``ALTER TABLE <table> <alter>``."""
    argv = [shutil.which(TOOL) or TOOL]
    if defaults_file:
        argv.append(f"--defaults-file={defaults_file}")  # first, as for the mysql client
    argv += [
        "--alter", alter,
        "--execute",
        "--alter-foreign-keys-method", FOREIGN_KEYS_METHOD,
        "--no-check-foreign-keys",
        "--max-load", MAX_LOAD,
        "--critical-load", CRITICAL_LOAD,
        "--chunk-time", CHUNK_TIME,
        "--set-vars", SET_VARS,
        "--tries", TRIES,
        "--charset", "utf8mb4",
        "--progress", "time,5",
        "--print",
        *extra,
        dsn(url, table),
    ]
    return argv


def alter_clause(statement: str, table: str) -> str:
    """``ADD COLUMN ...`` from a compiled ``ALTER TABLE <table> ADD COLUMN ...``."""
    match = re.match(r"\s*ALTER\s+TABLE\s+(`[^`]+`|\S+)\s+(.*)\Z", statement, re.I | re.S)
    if match is None or match.group(1).strip("`") != table:
        raise PtOscError(f"not an ALTER TABLE of {table}: {statement}")
    return match.group(2).strip()


def run(connection: Connection, table: str, alter: str, *, out: TextIO | None = None) -> None:
    """Run ``ALTER TABLE <table> <alter>`` through the tool on ``connection``'s database.

    The caller commits first (the migration's connection must hold no metadata lock on
    the table: the tool's RENAME would wait for it, and the migration for the tool)."""
    if shutil.which(TOOL) is None:
        raise PtOscError(f"{TOOL} is not installed (Debian: apt-get install percona-toolkit); "
                         f"needed for ALTER TABLE {table} {alter}")
    url = connection.engine.url
    extra = shlex.split(os.environ.get(OPTIONS_ENV, ""))
    out = out or sys.stdout
    with tempfile.TemporaryDirectory(prefix="pt-osc-") as folder:
        defaults_file = None
        if url.password:
            defaults_file = os.path.join(folder, "client.cnf")
            descriptor = os.open(defaults_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(f"[client]\npassword={url.password}\n")
        argv = command(url, table, alter, defaults_file=defaults_file, extra=extra)
        print(f"[pt-osc] ALTER TABLE {table} {alter}: {TOOL} (foreign keys: {FOREIGN_KEYS_METHOD})",
              file=out, flush=True)
        code, lines = _run(argv, out)
    if code != 0:
        tail = "\n".join(lines[-30:])
        raise PtOscError(f"{TOOL} failed with exit code {code} for ALTER TABLE {table} {alter}:\n{tail}")


def _run(argv: list[str], out: TextIO) -> tuple[int, list[str]]:
    from sqlalchemy.util.concurrency import await_only, in_greenlet

    if in_greenlet():
        return await_only(_run_async(argv, out))
    lines: list[str] = []
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as process:
        assert process.stdout is not None
        for line in process.stdout:
            _echo(line, lines, out)
    return process.returncode, lines


async def _run_async(argv: list[str], out: TextIO) -> tuple[int, list[str]]:
    process = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async for raw in process.stdout:
            _echo(raw.decode(errors="replace"), lines, out)
        return await process.wait(), lines
    except BaseException:  # cancelled: do not leave the tool running behind the migration
        if process.returncode is None:
            process.terminate()  # it drops its triggers and the new table on SIGTERM
            await process.wait()
        raise


def _echo(line: str, lines: list[str], out: TextIO) -> None:
    line = line.rstrip("\n")
    lines.append(line)
    print(f"[pt-osc] {line}", file=out, flush=True)
