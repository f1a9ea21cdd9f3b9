"""``quart --app quartblog db ...``: Flask-Migrate's commands over Alembic, on the app's
database and the migrations in the package.  In process (click's runner) for speed, on a
copy of the migrations folder (``migrate`` and ``revision`` write files); the README
test and the wheel test run them as real commands."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Column, ForeignKey, Integer, Table, Text

from quartblog import create_app, migrations
from quartblog.migrations import alembic_config
from quartblog.models import Base

from .conftest import IN_CI, _server_admin, make_config, server_url

REVISIONS = [r.revision for r in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))]
HEAD, BEFORE_HEAD = REVISIONS[-1], REVISIONS[-2]


@pytest.fixture
def database(backend, tmp_path):
    """An empty database, made and dropped outside any running event loop (the
    commands run their own, as they do from a terminal)."""
    if backend == "aiomysql":
        pytest.skip("thin wrappers: one MySQL driver is enough (asyncmy)")
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
        return
    name = f"qb_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    if backend == "asyncpg":
        create, drop = f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    else:
        create = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"
        drop = f"DROP DATABASE IF EXISTS `{name}`"
    try:
        asyncio.run(_server_admin(backend, create))
    except Exception as exc:  # no server here: skipped, or failed with CI=true (as conftest does)
        if IN_CI:
            pytest.fail(f"the {backend} server is not reachable: {exc}", pytrace=False)
        pytest.skip(f"the {backend} server is not reachable: {exc}")
    try:
        yield server_url(backend, name)
    finally:
        asyncio.run(_server_admin(backend, drop))


@pytest.fixture
def scripts(tmp_path, monkeypatch):
    """A copy of the migration scripts, where ``migrate``/``revision`` may write."""
    copy = tmp_path / "alembic"
    shutil.copytree(migrations.config.SCRIPT_LOCATION, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations.config, "SCRIPT_LOCATION", copy)
    return copy


@pytest.fixture
def notes_table():
    """A model change: a new table in the models' metadata, for autogenerate to find."""
    table = Table("notes", Base.metadata,
                  Column("id", Integer, primary_key=True),
                  Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), index=True, nullable=False),
                  Column("body", Text, nullable=False),
                  mysql_engine="InnoDB", mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_520_ci")
    yield table
    Base.metadata.remove(table)


def test_every_db_command(database, scripts, notes_table):
    Base.metadata.remove(notes_table)  # not yet: first the history as it is
    runner = create_app(make_config(database)).test_cli_runner()

    def db(*args: str, ok: bool = True):
        result = runner.invoke(args=["db", *args])
        if ok:
            assert result.exit_code == 0, f"db {' '.join(args)}: {result.output}{result.exception!r}"
        return result

    def current() -> str:
        return db("current").stdout.strip()

    assert f"{HEAD} (head)" in db("heads").stdout
    assert current() == ""
    offline = db("upgrade", "--sql")
    assert "CREATE TABLE posts" in offline.stdout and current() == ""  # nothing ran
    db("upgrade")
    assert current() == f"{HEAD} (head)"
    db("check")
    assert all(revision in db("history").stdout for revision in REVISIONS)
    assert "Posts get a description" in db("show", "0003").stdout

    db("downgrade")
    assert current() == BEFORE_HEAD
    assert "UPDATE alembic_version" in db("downgrade", "--sql", f"{BEFORE_HEAD}:{REVISIONS[-3]}").stdout
    assert current() == BEFORE_HEAD  # --sql changed nothing
    db("stamp", HEAD)
    assert current() == f"{HEAD} (head)"
    db("stamp", BEFORE_HEAD)
    db("upgrade")

    Base.metadata._add_table(notes_table.name, None, notes_table)
    unmigrated = db("check", ok=False)
    assert unmigrated.exit_code == 1 and "notes" in unmigrated.output
    db("migrate", "-m", "add notes", "--rev-id", "9001")
    written = (scripts / "versions" / "9001_add_notes.py").read_text()
    assert "op.create_table('notes'" in written
    assert "drop_index" not in written  # the table's drop takes its indexes (MySQL refuses otherwise)
    db("upgrade")
    assert current() == "9001 (head)"
    db("check")
    db("downgrade")  # drop_table on a table whose index a foreign key needs
    db("upgrade")
    db("revision", "-m", "by hand", "--rev-id", "9002")
    assert "def upgrade() -> None:\n    pass" in (scripts / "versions" / "9002_by_hand.py").read_text()
    db("upgrade")
    assert current() == "9002 (head)"
    db("downgrade", "base")
    assert current() == ""


def test_db_commands_report_alembic_errors_as_one_clear_message(tmp_path):
    runner = create_app(make_config(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")).test_cli_runner()
    result = runner.invoke(args=["db", "upgrade", "nosuchrevision"])
    assert result.exit_code == 1
    assert "Error: " in result.output and "nosuchrevision" in result.output


def test_migrate_without_a_model_change_writes_no_revision(database, scripts):
    # as Flask-Migrate: "No changes in schema detected." (it wrote an empty revision file)
    runner = create_app(make_config(database)).test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    before = sorted(p.name for p in (scripts / "versions").glob("*.py"))
    for args in (["db", "migrate", "-m", "nothing"], ["db", "revision", "--autogenerate", "-m", "nothing"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        assert "No changes in schema detected." in result.stdout
        assert "Generating" not in result.output
        assert sorted(p.name for p in (scripts / "versions").glob("*.py")) == before
    assert runner.invoke(args=["db", "current"]).stdout.strip() == f"{HEAD} (head)"


def test_check_gives_its_answer_alone_and_more_with_v(tmp_path):
    # it printed 135 INFO lines (one per revision the linter renders) before its answer
    runner = create_app(make_config(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")).test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    quiet = runner.invoke(args=["db", "check"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.output.splitlines() == ["No new upgrade operations detected."]
    verbose = runner.invoke(args=["db", "check", "-v"])
    assert verbose.exit_code == 0
    assert "INFO  [alembic.runtime.migration]" in verbose.output
    assert verbose.output.splitlines()[-1] == "No new upgrade operations detected."
    upgraded = runner.invoke(args=["db", "downgrade", "base"])  # the other commands still show progress
    assert "Running downgrade" in upgraded.output


def test_init_says_the_migrations_ship_with_the_package(tmp_path):
    # it answered "No such command 'init'. Did you mean 'lint'?"
    runner = create_app(make_config(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")).test_cli_runner()
    result = runner.invoke(args=["db", "init"])
    assert result.exit_code == 0, result.output
    assert "ship with the package" in result.output and str(migrations.config.SCRIPT_LOCATION) in result.output
    assert "quart --app quartblog db upgrade" in result.output
    assert not (tmp_path / "migrations").exists()
