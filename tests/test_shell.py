"""``quart --app quartblog shell``: await at the prompt, in the app context, with a
session, the models and the query helpers (the README's recipe, run for real)."""

from __future__ import annotations

import re

from .commands import PROJECT_ROOT, quart


def readme_shell_lines() -> list[str]:
    """The ``>>>`` lines of the README's shell example."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    return [line[4:] for line in readme.splitlines() if line.startswith(">>> ")]


def test_readme_shell_recipe_awaits_queries_at_the_prompt(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'shell.db'}"
    assert quart("db", "upgrade", url=url).returncode == 0
    seeded = quart("seed", "--users", "3", "--posts", "4", "--comments", "2", "--tags", "5", "--quiet", url=url)
    assert seeded.returncode == 0, seeded.stderr
    lines = readme_shell_lines()
    assert any("await" in line and "selectinload" in line for line in lines), lines

    shell = quart("shell", url=url, input="\n".join(lines) + "\n")

    assert shell.returncode == 0, shell.stderr
    assert "Traceback" not in shell.stderr and "Error" not in shell.stderr, shell.stderr
    # the posts with their explicitly loaded tags, then the number of users
    slugs_and_tags = re.findall(r"\('([a-z0-9-]+)', \[('[a-z-]+'(?:, )?)+\]\)", shell.stdout)
    assert len(slugs_and_tags) == 3, shell.stdout
    assert re.search(r"^(>>> )*3$", shell.stdout, re.M), shell.stdout


def test_shell_runs_in_the_app_context_and_keeps_state_between_statements(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'shell.db'}"
    assert quart("db", "upgrade", url=url).returncode == 0
    statements = [
        "from quart import current_app",
        "current_app.config['ENV']",
        "session.add(User(username='ada', email='ada@example.com', password_hash='x'))",
        "await session.commit()",
        "user = await session.scalar(select(User).where(User.username == 'ada'))",
        "user.email",
        "await session.scalars(select(Post).options(joinedload(Post.author)))",
        "(await session.scalars(select(User))).one().posts",  # lazy="raise": a clear error, the shell goes on
        "'still here'",
    ]
    shell = quart("shell", url=url, input="\n".join(statements) + "\n")
    assert shell.returncode == 0, shell.stderr
    assert "'development'" in shell.stdout
    assert "'ada@example.com'" in shell.stdout
    assert "is not available due to lazy='raise'" in shell.stderr
    assert "'still here'" in shell.stdout
    assert "Cannot run the event loop" not in shell.stderr
