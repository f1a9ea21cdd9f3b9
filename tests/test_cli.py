"""The command line: ``quart --app quartblog shell | create-user | set-role | set-password | seed | recount``."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, update

from quartblog import create_app
from quartblog.db import get_db
from quartblog.migrations import upgrade
from quartblog.models import Comment, PasswordReset, Post, Role, SignIn, Tag, TagCount, User, favorites, follows, post_tags
from quartblog.services.users import authenticate

from .conftest import clear_tables, make_config


@pytest.fixture
def cli_app(database_url):
    """An app as the ``quart`` command builds it; tables emptied afterwards."""
    app = create_app(make_config(database_url))
    yield app

    async def clean():
        db = get_db(app)
        await clear_tables(db.engine)
        await db.dispose()

    asyncio.run(clean())


def query(app, statement):
    async def run():
        db = get_db(app)
        try:
            async with db.session() as session:
                result = await session.execute(statement)
                rows = result.all() if getattr(result, "returns_rows", True) else None
                await session.commit()
                return rows
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_create_user_asks_for_the_password_without_echoing_it(cli_app):
    result = cli_app.test_cli_runner().invoke(
        args=["create-user", "ada", "ada@example.com"], input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert "created author ada <ada@example.com>" in result.output
    assert "s3cret-pass" not in result.output

    async def check():
        db = get_db(cli_app)
        try:
            async with db.session() as session:
                return await authenticate(session, "ada@example.com", "s3cret-pass")
        finally:
            await db.dispose()

    assert asyncio.run(check()).role == Role.AUTHOR


def test_create_admin_then_change_role(cli_app):
    runner = cli_app.test_cli_runner()
    result = runner.invoke(args=["create-user", "root", "root@example.com", "--password", "long-enough", "--admin"])
    assert result.exit_code == 0 and "created admin root" in result.output
    refused = runner.invoke(args=["set-role", "root", "reader"])  # the blog keeps an admin
    assert refused.exit_code != 0 and "the last admin cannot step down" in refused.output
    assert query(cli_app, select(User.role)) == [(Role.ADMIN,)]
    runner.invoke(args=["create-user", "ada", "ada@example.com", "--password", "long-enough", "--admin"])
    result = runner.invoke(args=["set-role", "root", "reader"])
    assert result.exit_code == 0 and "root is now reader" in result.output
    assert query(cli_app, select(User.username, User.role).order_by(User.id)) == [
        ("root", Role.READER), ("ada", Role.ADMIN)]


def test_create_user_reports_invalid_input_and_taken_names(cli_app):
    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["create-user", "ada", "ada@example.com", "--password", "long-enough"]).exit_code == 0
    again = runner.invoke(args=["create-user", "ada", "other@example.com", "--password", "long-enough"])
    assert again.exit_code != 0 and "username: has already been taken" in again.output
    short = runner.invoke(args=["create-user", "bob", "bob@example.com", "--password", "short"])
    assert short.exit_code != 0 and "password: is too short" in short.output


def in_session(app, work):
    """``await work(session)`` in a committed session of the app's, on a fresh loop."""

    async def run():
        db = get_db(app)
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(run())


def signed_in_twice(app, runner, password="long-enough") -> None:
    """ada, with the account created by the command and signed in on two browsers, and an
    unused "forgot password" link."""
    from quartblog.services import password_resets, sign_ins

    result = runner.invoke(args=["create-user", "ada", "ada@example.com", "--password", password])
    assert result.exit_code == 0, result.output

    async def sign_in(session):
        ada = await session.scalar(select(User).where(User.username == "ada"))
        for _ in range(2):
            await sign_ins.create(session, ada)
        await password_resets.request_reset(session, "ada@example.com", secret_key="k" * 40, lifetime=3600, per_hour=3)

    in_session(app, sign_in)


def password_works(app, password: str) -> bool:
    return in_session(app, lambda session: authenticate(session, "ada@example.com", password)) is not None


def counts(app) -> tuple[int, int]:
    """ada's sign-ins and unused reset links."""
    return (query(app, select(func.count()).select_from(SignIn))[0][0],
            query(app, select(func.count()).select_from(PasswordReset))[0][0])


def test_set_password_with_the_option_signs_out_everywhere(cli_app):
    runner = cli_app.test_cli_runner()
    signed_in_twice(cli_app, runner)
    assert counts(cli_app) == (2, 1)
    fingerprint = query(cli_app, select(User.password_hash))[0][0]
    result = runner.invoke(args=["set-password", "ada", "--password", "a new passphrase"])
    assert result.exit_code == 0, result.output
    assert result.output == "the password of ada is changed; their sign-ins and API tokens are revoked\n"
    assert counts(cli_app) == (0, 0)  # every browser signed out, every reset link void
    assert query(cli_app, select(User.password_hash))[0][0] != fingerprint  # API tokens carry its fingerprint
    assert not password_works(cli_app, "long-enough")
    assert password_works(cli_app, "a new passphrase")


def test_set_password_reads_the_password_from_stdin_when_it_is_not_a_terminal(cli_app):
    runner = cli_app.test_cli_runner()
    signed_in_twice(cli_app, runner)
    result = runner.invoke(args=["set-password", "ada"], input="piped passphrase\n")
    assert result.exit_code == 0, result.output
    assert "piped passphrase" not in result.output and "Password" not in result.output  # no prompt
    assert counts(cli_app) == (0, 0)
    assert not password_works(cli_app, "long-enough")
    assert password_works(cli_app, "piped passphrase")


def test_set_password_from_a_pipe_in_a_real_shell(cli_app, database_url):
    from .commands import quart

    signed_in_twice(cli_app, cli_app.test_cli_runner())
    result = quart("set-password", "ada", url=database_url, input="from a pipe, 1 2 3\r\n")
    assert result.returncode == 0, result.stderr
    assert "the password of ada is changed" in result.stdout
    assert counts(cli_app) == (0, 0)
    assert password_works(cli_app, "from a pipe, 1 2 3")


@pytest.mark.parametrize("args, stdin, message", [
    (["--password", "short"], None, "Error: password is too short (minimum is 8 characters)\n"),
    ([], "short\n", "Error: password is too short (minimum is 8 characters)\n"),
    ([], "", "Error: password can't be blank\n"),
    (["--password", "x" * 5000], None, "Error: password is too long"),
])
def test_a_refused_password_changes_nothing(cli_app, args, stdin, message):
    runner = cli_app.test_cli_runner()
    signed_in_twice(cli_app, runner)
    result = runner.invoke(args=["set-password", "ada", *args], input=stdin)
    assert result.exit_code == 1
    assert result.output.startswith(message), result.output
    assert counts(cli_app) == (2, 1)
    assert password_works(cli_app, "long-enough")


def test_set_password_of_an_unknown_user(cli_app):
    runner = cli_app.test_cli_runner()
    signed_in_twice(cli_app, runner)
    result = runner.invoke(args=["set-password", "nobody", "--password", "a new passphrase"])
    assert result.exit_code == 1
    assert result.output == "Error: user not found\n"
    assert counts(cli_app) == (2, 1)
    assert password_works(cli_app, "long-enough")


def test_seed_fills_every_table_in_bulk(cli_app):
    result = cli_app.test_cli_runner().invoke(args=[
        "seed", "--users", "12", "--posts", "60", "--comments", "150", "--tags", "10",
        "--follows", "3", "--favorites", "4", "--batch", "25",
    ])
    assert result.exit_code == 0, result.output
    counts = {
        table: query(cli_app, select(func.count()).select_from(table))[0][0]
        for table in (User.__table__, Post.__table__, Comment.__table__, Tag.__table__,
                      post_tags, follows, favorites)
    }
    assert counts[User.__table__] == 12 and counts[Post.__table__] == 60
    assert counts[Comment.__table__] == 150 and counts[Tag.__table__] == 10
    assert counts[post_tags] == 180 and counts[follows] == 36 and counts[favorites] == 48
    bodies = query(cli_app, select(Post.body).limit(1))
    assert "**bold**" in bodies[0][0] and "## " in bodies[0][0]
    # Seeded posts are published (readers see them) and counted.
    assert cli_app.test_cli_runner().invoke(args=["recount", "--check"]).exit_code == 0
    assert query(cli_app, select(func.count()).select_from(Post).where(
        Post.published_at.is_not(None)))[0][0] == 60


def test_recount_finds_and_mends_counts_written_around_the_services(cli_app):
    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["seed", "--users", "3", "--posts", "5", "--comments", "0",
                               "--tags", "2", "--quiet"]).exit_code == 0
    assert "every count is right" in runner.invoke(args=["recount", "--check"]).output
    query(cli_app, update(TagCount).values(posts=99))  # e.g. written by an older release
    checked = runner.invoke(args=["recount", "--check"])
    assert checked.exit_code == 1 and "kept 99, counted" in checked.output
    mended = runner.invoke(args=["recount"])
    assert mended.exit_code == 0 and "recounted" in mended.output
    assert runner.invoke(args=["recount", "--check"]).exit_code == 0


def test_shell_context_has_a_session_the_models_and_the_query_helpers(cli_app):
    context = cli_app.make_shell_context()
    for name in ("app", "db", "Session", "session", "select", "func", "selectinload", "joinedload",
                 "User", "Post", "Comment", "Tag", "Role"):
        assert name in context

    async def users_then_close():
        users = (await context["session"].scalars(context["select"](context["User"]))).all()
        for close in context["__shell_closers__"]:
            await close()
        return users

    assert asyncio.run(users_then_close()) == []


def test_seed_refuses_a_database_behind_the_newest_migration_with_the_apps_message(tmp_path):
    from quartblog.migrations import SchemaOutOfDate, ensure_schema_current

    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    app = create_app(make_config(url))

    async def upgrade_to_0002_then_the_apps_message() -> str:
        db = get_db(app)
        try:
            await upgrade(db.engine, "0002")
            with pytest.raises(SchemaOutOfDate) as error:
                await ensure_schema_current(app, db)
            return str(error.value)
        finally:
            await db.dispose()

    message = asyncio.run(upgrade_to_0002_then_the_apps_message())
    result = app.test_cli_runner().invoke(args=["seed", "--users", "2", "--posts", "2", "--quiet"])
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"
    assert "is at revision 0002" in message and "alembic upgrade head" in message


def test_a_bad_setting_is_one_line_on_the_command_line_too(tmp_path):
    # the quart command printed the ConfigError's traceback
    from .commands import quart

    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    for settings, why in [({"ENV": "prod"}, "QUARTBLOG_ENV='prod' is not a known environment: "
                                            "use one of development, testing, production"),
                          ({"ENV": "production"}, "QUARTBLOG_SECRET_KEY must be set")]:
        result = quart("db", "current", url=url, **settings)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {why}"), result.stderr
