"""Command line: ``quart --app quartblog <command>``.

* ``shell``: Quart's shell with the app, the session factory and every model in
  its context, plus ``run(coro)`` to await a query from the prompt.
* ``create-user``: an account, optionally an admin; asks for the password
  without echoing it when none is given.
* ``set-role``: change a user's role.
* ``seed``: demo data in bulk (users, tagged Markdown posts, comments, follows,
  favorites) with a progress bar.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

import click
from quart import Quart
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import models
from .db import get_db, set_write_intent
from .models import Role, User
from .services import users as user_service
from .services.errors import ServiceError

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
    shell_loop: dict[str, asyncio.AbstractEventLoop] = {}

    @app.shell_context_processor
    def shell_context() -> dict[str, Any]:
        loop = shell_loop.setdefault("loop", asyncio.new_event_loop())
        db = get_db(app)
        db.engine  # noqa: B018 - create the engine and session factory now
        context: dict[str, Any] = {
            "app": app,
            "db": db,
            "Session": db.sessionmaker,
            "select": select,
            "func": func,
            "run": loop.run_until_complete,
        }
        context.update({name: getattr(models, name) for name in models.__all__})
        return context

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
        from .seed import seed_database

        async def main() -> dict[str, int]:
            db = get_db(app)
            try:
                return await seed_database(db.engine, **options)
            finally:
                await db.dispose()

        counts = asyncio.run(main())
        click.echo("seeded " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        click.echo(f"every demo user's password: {options['password']}")

