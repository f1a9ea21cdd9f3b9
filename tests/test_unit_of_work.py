"""Each request is one unit of work, run again as a whole when the database gives up on it."""

from __future__ import annotations

import pytest
from quart import flash, g, get_flashed_messages
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from quartblog.db import get_session
from quartblog.models import Tag
from quartblog.web.unit_of_work import is_retryable


class DriverError(Exception):
    """Stands in for a driver's exception: MySQL drivers put the error code first."""


class PostgresError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("conflict")
        self.sqlstate = sqlstate


def wrapped(error_class, orig: Exception):
    return error_class("UPDATE ...", {}, orig)


@pytest.mark.parametrize("exc, retry", [
    (wrapped(OperationalError, DriverError(1213, "Deadlock found when trying to get lock")), True),
    (wrapped(OperationalError, DriverError(1205, "Lock wait timeout exceeded")), True),
    (wrapped(OperationalError, DriverError(2003, "Can't connect to MySQL server")), False),
    (wrapped(OperationalError, PostgresError("40P01")), True),
    (wrapped(OperationalError, PostgresError("40001")), True),
    (wrapped(ProgrammingError, PostgresError("42P01")), False),
    (wrapped(OperationalError, DriverError("database is locked")), True),
    (wrapped(OperationalError, DriverError("no such table: posts")), False),
    (wrapped(IntegrityError, DriverError(1062, "Duplicate entry 'x' for key 'uq_tags_name'")), True),
    (ValueError("not a database error"), False),
])
def test_which_errors_run_the_request_again(exc, retry):
    assert is_retryable(exc) is retry


def test_a_dead_pooled_connection_runs_a_reading_request_again_but_not_a_writing_one():
    from quartblog.db import set_write_intent

    lost = OperationalError("SELECT 1", {}, DriverError(2013, "Lost connection to MySQL server during query"),
                            connection_invalidated=True)
    set_write_intent(False)
    assert is_retryable(lost)
    set_write_intent(True)
    try:
        assert not is_retryable(lost)  # a write pings its connection first; this is an outage
    finally:
        set_write_intent(False)


def deadlock() -> OperationalError:
    return wrapped(OperationalError, DriverError(1213, "Deadlock found when trying to get lock"))


@pytest.fixture
def flaky_route(app):
    """POST /_flaky/<n>: adds a tag and a flash message, and deadlocks on its first n tries."""
    attempts: list[int] = []

    @app.post("/_flaky/<int:failures>")
    async def flaky(failures: int):
        attempts.append(1)
        assert "seen" not in g  # g is as it was before the first attempt
        g.seen = True
        await flash("saved")
        session = get_session()
        session.add(Tag(name=f"attempt-{len(attempts)}"))
        await session.flush()
        if len(attempts) <= failures:
            raise deadlock()
        return {"attempts": len(attempts)}

    @app.get("/_flashes")
    async def flashes():
        return {"messages": get_flashed_messages()}

    return attempts


async def test_a_deadlocked_request_runs_again_in_a_new_transaction(app, flaky_route, db_session):
    client = app.test_client()
    response = await client.post("/_flaky/2")
    assert response.status_code == 200 and (await response.get_json()) == {"attempts": 3}
    # Only the last attempt's work is committed, and its flash message shown once.
    assert list(await db_session.scalars(select(Tag.name))) == ["attempt-3"]
    assert (await (await client.get("/_flashes")).get_json()) == {"messages": ["saved"]}


async def test_a_request_that_keeps_deadlocking_gets_503_with_retry_after(app, flaky_route, db_session):
    app.config["DB_RETRY_ATTEMPTS"] = 3
    response = await app.test_client().post("/_flaky/99", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "busy" in (await response.get_json())["errors"]["body"][0]
    assert len(flaky_route) == 3
    assert await db_session.scalar(select(func.count()).select_from(Tag)) == 0


async def test_a_request_that_only_reads_sends_no_commit(app, client):
    """Closing the session ends a read-only transaction; a COMMIT would be one more
    round trip (the pool rolls back what it gets back anyway)."""
    from sqlalchemy import event

    from quartblog.db import get_db

    from .api.conftest import register, write_article

    commits: list[int] = []

    def count(_conn) -> None:
        commits.append(1)

    engine = get_db(app).engine.sync_engine
    event.listen(engine, "commit", count)
    try:
        alice = await register(client, "alice")
        assert len(commits) == 1
        await write_article(client, alice, "Read me")
        assert len(commits) == 2
        for path in ("/", "/api/tags", "/api/articles", "/api/articles/read-me", "/api/user"):
            response = await client.get(path, headers=alice.headers if path == "/api/user" else {})
            assert response.status_code == 200, path
        assert len(commits) == 2
    finally:
        event.remove(engine, "commit", count)


@pytest.fixture
def conflicting_route(app):
    """POST /_conflict/<kind>: fails with a concurrency error, every time."""
    errors = {
        # a unique race that keeps losing (retried, then given up)
        "integrity": lambda: wrapped(IntegrityError, DriverError(1062, "Duplicate entry 'x-2' for key 'slug'")),
        # a MySQL server error nobody listed as retryable: not a 500 either
        "unlisted": lambda: wrapped(OperationalError, DriverError(1637, "Too many active concurrent transactions")),
        "postgres": lambda: wrapped(OperationalError, PostgresError("40003")),  # statement completion unknown
    }
    attempts: list[str] = []

    @app.post("/_conflict/<kind>")
    async def conflict(kind: str):
        attempts.append(kind)
        raise errors[kind]()

    return attempts


@pytest.mark.parametrize("kind, tries", [("integrity", 3), ("unlisted", 1), ("postgres", 1)])
async def test_a_concurrency_error_nothing_settles_is_503_with_retry_after_never_500(app, conflicting_route,
                                                                                     kind, tries):
    app.config["DB_RETRY_ATTEMPTS"] = 3
    for accept in ("application/json", "text/html"):
        conflicting_route.clear()
        response = await app.test_client().post(f"/_conflict/{kind}", headers={"Accept": accept})
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert len(conflicting_route) == tries
