"""``quart --app quartblog db ...``: Flask-Migrate's commands, for people who know them.

Thin wrappers over ``alembic.command``, on the app's database (``QUARTBLOG_DATABASE_URL``)
and the migrations shipped in the package (``alembic/``, a copy of which the wheel carries), so an installed
wheel can migrate without the repository.  ``migrate`` is ``revision --autogenerate``,
as in Flask-Migrate.  ``alembic ...`` from the repository does the same things.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable

import click
from alembic import command
from alembic.util import CommandError
from quart import Quart

from ..db import get_db
from ..migrations import alembic_config


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (click's test runner swaps it)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _show_alembic_progress(level: int = logging.INFO) -> None:
    """What alembic.ini's logging section does for ``alembic``: INFO lines on stderr
    (``level`` and above), for the length of the command."""
    logger = logging.getLogger("alembic")
    if all(isinstance(h, logging.NullHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-5.5s [%(name)s] %(message)s"))
        saved = logger.level, logger.propagate
        logger.addHandler(handler)
        logger.propagate = False

        def restore() -> None:
            logger.removeHandler(handler)
            logger.setLevel(saved[0])
            logger.propagate = saved[1]

        click.get_current_context().call_on_close(restore)
    logger.setLevel(level)


def _skip_an_empty_autogenerate(context: Any, revision: Any, directives: list) -> None:
    """``process_revision_directives`` for ``migrate`` (as Flask-Migrate's env.py): no
    model change, no revision file."""
    if directives and all(upgrade_ops.is_empty() for upgrade_ops in directives[0].upgrade_ops_list):
        directives[:] = []
        click.echo("No changes in schema detected.")


def init_app(app: Quart) -> None:
    @app.cli.group("db")
    def db_group() -> None:
        """Database migrations (Alembic), as Flask-Migrate's `flask db`."""
        _show_alembic_progress()

    def run(name: str, *args: Any, **kwargs: Any) -> None:
        cfg = alembic_config(get_db(app).url)
        function: Callable[..., Any] = getattr(command, name)
        try:
            function(cfg, *args, **kwargs)
        except CommandError as exc:
            raise click.ClickException(str(exc)) from exc

    @db_group.command("upgrade")
    @click.argument("revision", default="head")
    @click.option("--sql", is_flag=True, help="Print the SQL instead of running it (offline).")
    @click.option("--tag", default=None, help="An arbitrary tag for custom env.py code.")
    def upgrade(revision: str, sql: bool, tag: str | None) -> None:
        """Upgrade to a later revision (default: head)."""
        run("upgrade", revision, sql=sql, tag=tag)

    @db_group.command("downgrade")
    @click.argument("revision", default="-1")
    @click.option("--sql", is_flag=True, help="Print the SQL instead of running it (offline).")
    @click.option("--tag", default=None, help="An arbitrary tag for custom env.py code.")
    def downgrade(revision: str, sql: bool, tag: str | None) -> None:
        """Revert to a previous revision (default: one step back)."""
        run("downgrade", revision, sql=sql, tag=tag)

    @db_group.command("revision")
    @click.option("-m", "--message", default=None, help="What the revision does.")
    @click.option("--autogenerate", is_flag=True, help="Compare the models with the database.")
    @click.option("--rev-id", default=None, help="The revision id (default: random).")
    @click.option("--head", default="head", show_default=True, help="The revision to build on.")
    def revision(message: str | None, autogenerate: bool, rev_id: str | None, head: str) -> None:
        """Write a new revision file (empty, or --autogenerate'd from the models: none
        when they match the migrations)."""
        run("revision", message=message, autogenerate=autogenerate, rev_id=rev_id, head=head,
            process_revision_directives=_skip_an_empty_autogenerate if autogenerate else None)

    @db_group.command("migrate")
    @click.option("-m", "--message", default=None, help="What the revision does.")
    @click.option("--rev-id", default=None, help="The revision id (default: random).")
    def migrate(message: str | None, rev_id: str | None) -> None:
        """Autogenerate a revision from the models (= revision --autogenerate); none when
        nothing changed."""
        run("revision", message=message, autogenerate=True, rev_id=rev_id,
            process_revision_directives=_skip_an_empty_autogenerate)

    @db_group.command("init")
    def init() -> None:
        """Nothing to create: the migrations ship with the package (Flask-Migrate's init makes
        the folder).  Beside an installed package it writes an alembic.ini naming them, so
        that `alembic ...` works there too."""
        from pathlib import Path

        from ..migrations.config import PROJECT_ROOT, SCRIPT_LOCATION, alembic_ini_text

        click.echo(f"Nothing to initialise: quartblog's migrations ship with the package ({SCRIPT_LOCATION}). "
                   "Run `quart --app quartblog db upgrade` to create or upgrade the database's tables, "
                   "and `quart --app quartblog db migrate -m \"...\"` after changing a model.")
        ini = Path("alembic.ini")
        if ini.exists() or Path.cwd() == PROJECT_ROOT:
            return
        ini.write_text(alembic_ini_text(SCRIPT_LOCATION))
        click.echo(f"Wrote {ini.resolve()} for them: `alembic upgrade head`, `alembic history` ... work here too.")

    @db_group.command("history")
    @click.option("-r", "--rev-range", default=None, help="e.g. 0002:head")
    @click.option("-v", "--verbose", is_flag=True)
    @click.option("-i", "--indicate-current", is_flag=True, help="Mark the database's revision.")
    def history(rev_range: str | None, verbose: bool, indicate_current: bool) -> None:
        """The revisions, newest first."""
        run("history", rev_range=rev_range, verbose=verbose, indicate_current=indicate_current)

    @db_group.command("current")
    @click.option("-v", "--verbose", is_flag=True)
    def current(verbose: bool) -> None:
        """The database's revision."""
        run("current", verbose=verbose)

    def lint_or_fail(show_all: bool = False) -> int:
        from ..migrations import lint

        try:
            findings = lint.lint_scripts()
        except lint.LintError as exc:
            raise click.ClickException(str(exc)) from exc
        if show_all:
            for finding in findings:
                click.echo(str(finding))
        unreviewed = lint.problems(findings)
        if unreviewed:
            raise click.ClickException(lint.report(unreviewed))
        return len(findings)

    @db_group.command("lint")
    @click.option("--all", "show_all", is_flag=True, help="List the reviewed operations too.")
    def lint_command(show_all: bool) -> None:
        """Fail on operations unsafe under traffic that no revision marks as reviewed."""
        reviewed = lint_or_fail(show_all)
        click.echo(f"Migration linter: no unreviewed operation ({reviewed} reviewed).")

    @db_group.command("check")
    @click.option("-v", "--verbose", is_flag=True, help="Show Alembic's progress (INFO lines).")
    def check(verbose: bool) -> None:
        """Fail when a revision does something unsafe under traffic without marking it
        reviewed (the migration linter), or when the models and the migrations differ."""
        if not verbose:
            _show_alembic_progress(logging.WARNING)  # the answer alone: no line per linted revision
        lint_or_fail()
        run("check")

    @db_group.command("stamp")
    @click.argument("revision", default="head")
    @click.option("--sql", is_flag=True, help="Print the SQL instead of running it (offline).")
    @click.option("--purge", is_flag=True, help="Empty the version table first.")
    def stamp(revision: str, sql: bool, purge: bool) -> None:
        """Set the database's revision without running migrations."""
        run("stamp", revision, sql=sql, purge=purge)

    @db_group.command("show")
    @click.argument("revision", default="head")
    def show(revision: str) -> None:
        """One revision's details."""
        run("show", revision)

    @db_group.command("heads")
    @click.option("-v", "--verbose", is_flag=True)
    def heads(verbose: bool) -> None:
        """The newest revision(s)."""
        run("heads", verbose=verbose)
