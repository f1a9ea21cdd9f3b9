"""The RealWorld contract's own test suite (``../shared/realworld/Conduit.postman_collection.json``),
run by newman against a real ``hypercorn quartblog:app`` with the production defaults of
rate limits, on a fresh database of MariaDB (asyncmy), PostgreSQL and SQLite.  Every
assertion must pass: the test lists each one that failed, by request and name.

newman is pinned in ``tests/realworld/package.json``; ``scripts/test.sh`` installs it
there (``npm ci``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ..conftest import IN_CI, TEST_SECRET, fresh_database
from ..servers import PROJECT_ROOT, Hypercorn

COLLECTION = PROJECT_ROOT.parent / "shared" / "realworld" / "Conduit.postman_collection.json"
NEWMAN = PROJECT_ROOT / "tests" / "realworld" / "node_modules" / ".bin" / "newman"


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} (CI=true: the RealWorld suite must run)", pytrace=False)
    pytest.skip(what)


def failed_assertions(report: dict) -> list[str]:
    """"<request>: <assertion>: <message>" for each failure in newman's JSON report."""
    return [f"{failure['source'].get('name', '?')}: {failure['error'].get('test') or failure['error'].get('name')}: "
            f"{failure['error'].get('message')}"
            for failure in report["run"]["failures"]]


async def test_the_realworld_postman_collection_passes_every_assertion(backend, tmp_path):
    if backend == "aiomysql":
        pytest.skip("the same server as asyncmy: the collection runs once per database")
    if not COLLECTION.is_file():
        _missing(f"{COLLECTION} is not there")
    if not NEWMAN.is_file():
        _missing("newman is not installed: run `npm ci` in tests/realworld (scripts/test.sh does)")
    from quartblog.migrations import upgrade
    from quartblog.db import create_engine

    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        server = Hypercorn(tmp_path, {"QUARTBLOG_DATABASE_URL": url, "QUARTBLOG_SECRET_KEY": TEST_SECRET,
                                      "QUARTBLOG_MEDIA_DIR": str(tmp_path / "media")})
        await server.start()
        try:
            name = f"rw{uuid.uuid4().hex[:10]}"
            report_path = tmp_path / "newman.json"
            run = subprocess.run(
                [str(NEWMAN), "run", str(COLLECTION), "--reporters", "cli,json",
                 "--reporter-json-export", str(report_path), "--color", "off",
                 "--global-var", f"APIURL={server.base_url}/api", "--global-var", f"USERNAME={name}",
                 "--global-var", f"EMAIL={name}@example.com", "--global-var", "PASSWORD=password123"],
                capture_output=True, text=True, timeout=300, env={**os.environ, "NO_UPDATE_NOTIFIER": "1"})
        finally:
            await server.stop()
    assert report_path.is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(report_path.read_text())
    stats = report["run"]["stats"]
    print(f"{backend}: {stats['requests']['total']} requests, {stats['assertions']['total']} assertions, "
          f"{stats['assertions']['failed']} failed", file=sys.stderr)
    assert failed_assertions(report) == [], run.stdout[-4000:]
    assert stats["assertions"]["total"] > 200 and stats["requests"]["failed"] == 0
    assert "Traceback" not in Path(server.process.log_path).read_text(errors="replace")
