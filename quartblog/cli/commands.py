"""Command line: ``quart --app quartblog <command>``.

* ``shell``: a Python shell where ``await`` works at the prompt (like ``python -m
  asyncio``), in the app context, with ``session`` (an AsyncSession), every model,
  ``select``, ``func`` and the loader options in its namespace.  It replaces
  Quart's own ``shell`` (whose prompt runs inside a running event loop, so nothing
  can be awaited) through the ``quart.commands`` entry point in pyproject.toml.
* ``db``: Flask-Migrate's commands (``upgrade``, ``downgrade``, ``migrate`` ...),
  thin wrappers over ``alembic.command`` on the app's database and the migrations
  shipped in the package (``quartblog/dbcli.py``).
* ``create-user``: an account, optionally an admin; asks for the password
  without echoing it when none is given.
* ``set-role``: change a user's role.
* ``seed``: demo data in bulk (users, tagged Markdown posts, comments, follows,
  favorites) with a progress bar.
"""

from __future__ import annotations

import ast
import asyncio
import code
import contextvars
import inspect
import os
import sys
import types
from typing import Any, Awaitable, Callable, TypeVar

import click
from quart import Quart
from quart.cli import ScriptInfo
from sqlalchemy import and_, delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload, load_only, raiseload, selectinload

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


SHELL_NAMES = {
    "select": select, "insert": insert, "update": update, "delete": delete, "func": func,
    "text": text, "and_": and_, "or_": or_,
    "selectinload": selectinload, "joinedload": joinedload, "contains_eager": contains_eager,
    "load_only": load_only, "raiseload": raiseload,
}


class AsyncConsole(code.InteractiveConsole):
    """``python -m asyncio``'s console without its second thread: statements are
    compiled with top-level ``await`` allowed and a coroutine is run to completion on
    ``loop`` (in the main thread).  Every statement runs in one ``contextvars``
    context, so the app context pushed at start stays current, for sync and async
    statements alike."""

    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop,
                 context: contextvars.Context) -> None:
        super().__init__(namespace, filename="<quartblog shell>")
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.loop = loop
        self.context = context

    def run(self, awaitable: Awaitable[T]) -> T:
        task = self.loop.create_task(_awaited(awaitable), context=self.context)
        try:
            return self.loop.run_until_complete(task)
        except KeyboardInterrupt:
            task.cancel()  # Ctrl-C stops the statement, not the shell
            try:
                self.loop.run_until_complete(task)
            except BaseException:  # noqa: S110 - the cancellation itself
                pass
            raise

    def runcode(self, code_object: types.CodeType) -> None:
        function = types.FunctionType(code_object, self.locals)
        try:
            result = self.context.run(function)
            if inspect.iscoroutine(result):
                self.run(result)
        except SystemExit:
            raise
        except BaseException:
            self.showtraceback()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


@click.command("shell", short_help="Run a shell (await works) in the app context.")
@click.pass_context
def shell_command(click_context: click.Context) -> None:
    """A Python shell in the app context where ``await`` works at the prompt:
    ``await session.scalars(select(Post).limit(3))``."""
    app = click_context.ensure_object(ScriptInfo).load_app()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    context = contextvars.copy_context()
    namespace: dict[str, Any] = {"__name__": "__console__", "__builtins__": __builtins__}
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup) as f:
            exec(compile(f.read(), startup, "exec"), namespace)  # noqa: S102 - the user's own file
    console = AsyncConsole(namespace, loop, context)
    app_context = app.app_context()
    console.run(app_context.push())
    try:
        namespace.update(context.run(app.make_shell_context))
        hook = getattr(sys, "__interactivehook__", None)
        if hook is not None and sys.stdin.isatty():
            try:
                import readline
                from rlcompleter import Completer
            except ImportError:
                pass
            else:
                readline.set_completer(Completer(namespace).complete)
            hook()
        shown = ", ".join(sorted(k for k in namespace if not k.startswith("__")))
        banner = (f"Python {sys.version.split()[0]} on {sys.platform}, app {app.import_name}\n"
                  f"await works at this prompt, e.g. await session.scalars(select(Post).limit(3))\n"
                  f"names: {shown}")
        console.interact(banner=banner, exitmsg="")
    finally:
        for closer in namespace.get("__shell_closers__", []):
            console.run(closer())
        console.run(app_context.pop())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


def init_app(app: Quart) -> None:
    from . import dbcli

    dbcli.init_app(app)

    @app.shell_context_processor
    def shell_context() -> dict[str, Any]:
        db = get_db(app)
        session = db.session()

        async def close() -> None:
            await session.close()
            await db.dispose()

        context: dict[str, Any] = {
            "app": app,
            "db": db,
            "Session": db.sessionmaker,
            "session": session,
            "__shell_closers__": [close],
            **SHELL_NAMES,
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

    @app.cli.command("recount")
    @click.option("--check", is_flag=True, help="Only report the numbers that are wrong (exit 1 if any).")
    def recount(check: bool) -> None:
        """Recompute the post counts kept on write (after an older release wrote posts)."""
        from .services import counts

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
        from .db import DatabaseUnavailable
        from .migrations import SchemaOutOfDate, ensure_schema_current
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

