"""Command line: ``quart --app quartblog <command>``.  ``shell`` and ``db`` live in
``shell.py`` and ``migrate.py``; the data and admin commands are here:
* ``create-user``: an account, optionally an admin; asks for the password
  without echoing it when none is given.
* ``set-role``: change a user's role.
* ``set-password``: a user's new password (``--password``, asked for twice at a
  terminal, else one line of standard input); signs out their browsers and revokes
  their API tokens, like any password change.
* ``recount``: the counts kept on write, checked or recomputed.
* ``worker``: runs the background jobs (mail).
* ``seed``: demo data in bulk (users, tagged Markdown posts, comments, follows,
  favorites) with a progress bar.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

import click
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from . import migrate, shell
from ..db import get_db, set_write_intent
from ..models import Role, User
from ..services import users as user_service
from ..services.errors import ServiceError

T = TypeVar("T")


def _run_with_session(app: Quart, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in a session that is committed on success, on a fresh loop."""

    async def main() -> T:
        set_write_intent(True)  # SQLite: take the write lock at BEGIN
        db = get_db(app)
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(main())


def init_app(app: Quart) -> None:
    migrate.init_app(app)
    shell.init_app(app)

    @app.cli.command("create-user")
    @click.argument("username")
    @click.argument("email")
    @click.option("--password", help="Asked for (not echoed) when left out.")
    @click.option("--admin", is_flag=True, help="Make the user an admin.")
    @click.option("--role", type=click.Choice([r.value for r in Role]), default=None,
                  help="The role (default: author; --admin means admin).")
    def create_user(username: str, email: str, password: str | None, admin: bool, role: str | None) -> None:
        """Create a user account."""
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        chosen = Role.ADMIN if admin else Role(role or Role.AUTHOR.value)

        async def work(session: AsyncSession) -> User:
            return await user_service.register(
                session, username=username, email=email, password=password, role=chosen)

        try:
            user = _run_with_session(app, work)
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"created {user.role.value} {user.username} <{user.email}>")

    @app.cli.command("set-role")
    @click.argument("username")
    @click.argument("role", type=click.Choice([r.value for r in Role]))
    def set_role(username: str, role: str) -> None:
        """Change a user's role (admin, author, reader)."""

        async def work(session: AsyncSession) -> User:
            return await user_service.change_role(session, username, role)

        try:
            user = _run_with_session(app, work)
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{user.username} is now {user.role.value}")

    @app.cli.command("recount")
    @click.option("--check", is_flag=True, help="Only report the numbers that are wrong (exit 1 if any).")
    def recount(check: bool) -> None:
        """Recompute the post counts kept on write (after an older release wrote posts)."""
        from ..services import counts

        async def work(session: AsyncSession) -> dict[str, tuple[int, int]]:
            wrong = await counts.drift(session)
            if not check and wrong:
                await counts.recount(session)
            return wrong

        wrong = _run_with_session(app, work)
        for name, (kept, counted) in sorted(wrong.items()):
            click.echo(f"{name}: kept {kept}, counted {counted}")
        if check and wrong:
            raise click.exceptions.Exit(1)
        click.echo(f"{len(wrong)} wrong, " + ("left as they are" if check else "recounted")
                   if wrong else "every count is right")

    @app.cli.command("seed")
    @click.option("--users", "n_users", default=50, show_default=True)
    @click.option("--posts", "n_posts", default=500, show_default=True)
    @click.option("--comments", "n_comments", default=2000, show_default=True)
    @click.option("--tags", "n_tags", default=50, show_default=True, help="Size of the tag pool.")
    @click.option("--tags-per-post", default=3, show_default=True)
    @click.option("--follows", "n_follows", default=10, show_default=True, help="Follows per user.")
    @click.option("--favorites", "n_favorites", default=20, show_default=True, help="Favorites per user.")
    @click.option("--password", default="password123", show_default=True, help="Every demo user's password.")
    @click.option("--random-seed", default=1, show_default=True)
    @click.option("--batch", default=2000, show_default=True, help="Rows per INSERT batch.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    def seed(**options: Any) -> None:
        """Fill the database with demo data (bulk inserts)."""
        from ..db import DatabaseUnavailable
        from ..migrations import SchemaOutOfDate, ensure_schema_current
        from .seed import seed_database

        async def main() -> dict[str, int]:
            db = get_db(app)
            try:
                await ensure_schema_current(app, db)  # the app's own check, the same message
                return await seed_database(db.engine, **options)
            finally:
                await db.dispose()

        try:
            counts = asyncio.run(main())
        except (SchemaOutOfDate, DatabaseUnavailable) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo("seeded " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        click.echo(f"every demo user's password: {options['password']}")


    @app.cli.command("set-password")
    @click.argument("username")
    @click.option("--password", help="Asked for twice (not echoed) when left out; read from stdin when it is not a terminal.")
    def set_password(username: str, password: str | None) -> None:
        """Set a user's password (signs out their browsers and revokes their API tokens)."""
        import sys

        from ..services import password_resets

        if password is None:
            if sys.stdin.isatty():
                password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
            else:
                password = sys.stdin.readline().rstrip("\r\n")

        async def work(session: AsyncSession) -> User:
            return await password_resets.set_password(session, username, password)

        try:
            user = _run_with_session(app, work)
        except ServiceError as exc:
            raise click.ClickException(_explain(exc)) from exc
        click.echo(f"the password of {user.username} is changed; their sign-ins and API tokens are revoked")

    @app.cli.command("worker")
    @click.option("--concurrency", type=int, default=None, help="Jobs at once (default: QUARTBLOG_JOB_CONCURRENCY).")
    @click.option("--burst", is_flag=True, help="Run the jobs due now, then exit.")
    def worker(concurrency: int | None, burst: bool) -> None:
        """Run background jobs (mail) until stopped (SIGTERM/SIGINT finish the jobs under way)."""
        from .worker import run_worker

        run_worker(app, concurrency=concurrency, burst=burst)


def _explain(exc: ServiceError) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(f"{field} {' and '.join(map(str, messages))}" for field, messages in errors.items())
    return str(exc)
