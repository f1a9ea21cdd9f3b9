"""``quart --app quartblog shell``: a Python shell where ``await`` works at the prompt
(like ``python -m asyncio``), in the app context, with ``session`` (an AsyncSession),
every model, ``select``, ``func`` and the loader options in its namespace.  It replaces
Quart's own ``shell`` (whose prompt runs inside a running event loop, so nothing can be
awaited) through the ``quart.commands`` entry point in pyproject.toml."""

from __future__ import annotations

import ast
import asyncio
import code
import contextvars
import inspect
import os
import sys
import types
from typing import Any, Awaitable, TypeVar

import click
from quart import Quart
from quart.cli import ScriptInfo
from sqlalchemy import and_, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import contains_eager, joinedload, load_only, raiseload, selectinload

from .. import models
from ..db import get_db

T = TypeVar("T")

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
