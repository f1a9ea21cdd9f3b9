"""The migration linter (quartblog/migrations/lint.py): each rule catches a bad revision and
lets a good one through; a reviewed mark lets a bad one through, a stale mark does not;
the real history is read and passes; ``quart db lint`` and ``quart db check`` run it.

No database: the linter runs each ``upgrade()`` against recording operations.
"""

from __future__ import annotations

import textwrap

import pytest
from alembic.script import ScriptDirectory
from alembic.util import load_python_file

from quartblog import create_app
from quartblog.migrations import lint
from quartblog.migrations import alembic_config

from .conftest import make_config
from .test_migrations import REVISIONS, migrations_copy_with

HEADER = """\
import sqlalchemy as sa
from alembic import op

from quartblog.migrations import online

revision = "9001"
down_revision = "0009"
"""


def revision(tmp_path, body: str, reviewed: dict[str, str] | None = None, name: str = "rev"):
    """A revision module whose ``upgrade()`` is ``body``."""
    source = HEADER + (f"reviewed = {reviewed!r}\n" if reviewed else "")
    source += "\n\ndef upgrade():\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return load_python_file(str(tmp_path), path.name)


def unreviewed(tmp_path, body: str, **kwargs) -> set[str]:
    return {finding.key for finding in lint.problems(lint.lint_module(revision(tmp_path, body, **kwargs)))}


# rule: (a revision it refuses, the finding's key, the safe way that it lets through)
CASES = {
    "not-null": (
        'online.add_column("posts", sa.Column("score", sa.Integer(), nullable=False))',
        "not-null posts.score",
        'online.add_column("posts", sa.Column("score", sa.Integer(), server_default="0", nullable=False))'),
    "not-null (made NOT NULL)": (
        'op.alter_column("users", "bio", existing_type=sa.Text(), nullable=False)',
        "not-null users.bio",
        'op.alter_column("users", "bio", existing_type=sa.Text(), nullable=True)'),
    "type-change": (
        'op.alter_column("tags", "name", existing_type=sa.String(64), type_=sa.String(128))',
        "type-change tags.name",
        'online.add_column("tags", sa.Column("long_name", sa.String(128), nullable=True))  # expand'),
    "rename-column": (
        'op.alter_column("users", "bio", new_column_name="about")',
        "rename-column users.bio",
        'online.add_column("users", sa.Column("about", sa.Text(), nullable=True))  # expand, copy, contract'),
    "drop-column": (
        'online.drop_column("users", "image")',
        "drop-column users.image",
        'pass  # the release that stops reading users.image ships first'),
    "drop-table": (
        'op.drop_table("uploads")',
        "drop-table uploads",
        'pass'),
    "rename-table": (
        'op.rename_table("uploads", "images")',
        "rename-table uploads",
        'pass'),
    "column-not-online": (
        'op.add_column("comments", sa.Column("edited_at", sa.DateTime(), nullable=True))',
        "column-not-online comments.edited_at",
        'online.add_column("comments", sa.Column("edited_at", sa.DateTime(), nullable=True))'),
    "column-not-online (batch)": (
        'with op.batch_alter_table("comments") as batch_op:\n'
        '    batch_op.add_column(sa.Column("edited_at", sa.DateTime(), nullable=True))',
        "column-not-online comments.edited_at",
        'online.add_column("comments", sa.Column("edited_at", sa.DateTime(), nullable=True))'),
    "index-not-online": (
        'op.create_index("ix_comments_author_id_created_at", "comments", ["author_id", "created_at"])',
        "index-not-online comments.ix_comments_author_id_created_at",
        'online.create_index("ix_comments_author_id_created_at", "comments", ["author_id", "created_at"])'),
    "index-not-online (a new table's index is fine)": (
        'op.drop_index("ix_comments_author_id", table_name="comments")',
        "index-not-online comments.ix_comments_author_id",
        'op.create_table("counters", sa.Column("name", sa.String(32), primary_key=True),\n'
        '                sa.Column("value", sa.Integer(), nullable=False))\n'
        'op.create_index("ix_counters_value", "counters", ["value"])'),
    "add-constraint": (
        'op.create_foreign_key("fk_comments_reply_to_id_comments", "comments", "comments", ["reply_to_id"], ["id"])',
        "add-constraint comments.fk_comments_reply_to_id_comments",
        'op.create_table("replies", sa.Column("id", sa.Integer(), primary_key=True),\n'
        '                sa.Column("comment_id", sa.Integer(), nullable=False))\n'
        'op.create_foreign_key("fk_replies_comment_id_comments", "replies", "comments", ["comment_id"], ["id"])'),
    "add-constraint (a new column's foreign key)": (
        'online.add_column("comments", sa.Column("reply_to_id", sa.Integer(), sa.ForeignKey("comments.id"), '
        'nullable=True))',
        "add-constraint comments.reply_to_id",
        'online.add_column("comments", sa.Column("reply_to_id", sa.Integer(), nullable=True))'),
    "blocking-ddl": (
        'online.add_column("posts", sa.Column("pinned", sa.Boolean(), nullable=True), algorithm="INPLACE", '
        'lock="SHARED")',
        "blocking-ddl posts.pinned",
        'online.add_column("posts", sa.Column("pinned", sa.Boolean(), nullable=True), algorithm="INPLACE")'),
    "raw-ddl": (
        'op.execute("ALTER TABLE posts ENGINE=InnoDB")',
        "raw-ddl ALTER TABLE posts ENGINE=InnoDB",
        'op.execute("UPDATE posts SET view_count = 0 WHERE view_count < 0")  # data only'),
    "data-with-schema": (
        'online.add_column("tags", sa.Column("post_count", sa.Integer(), server_default="0", nullable=False))\n'
        'op.execute("UPDATE tags SET post_count = (SELECT count(*) FROM post_tags WHERE tag_id = tags.id)")',
        "data-with-schema upgrade",
        'op.execute("UPDATE tags SET post_count = (SELECT count(*) FROM post_tags WHERE tag_id = tags.id)")'),
    "data-with-schema (rows through get_bind)": (
        'online.add_column("tags", sa.Column("post_count", sa.Integer(), server_default="0", nullable=False))\n'
        'bind = op.get_bind()\n'
        'last = 0\n'
        'while True:\n'
        '    ids = bind.execute(sa.text("SELECT id FROM tags WHERE id > :last ORDER BY id LIMIT 500"),\n'
        '                       {"last": last}).scalars().all()\n'
        '    if not ids:\n'
        '        break\n'
        '    last = ids[-1]',
        "data-with-schema upgrade",
        'bind = op.get_bind()\n'
        'while bind.execute(sa.text("UPDATE tags SET name = name WHERE id < 0")).rowcount:\n'
        '    pass'),
}


@pytest.mark.parametrize("case", CASES)
def test_each_rule_refuses_the_unsafe_operation_and_lets_the_safe_way_through(case, tmp_path):
    bad, key, good = CASES[case]
    rule = key.split()[0]
    assert rule in lint.RULES
    assert key in unreviewed(tmp_path, bad, name="bad")
    assert unreviewed(tmp_path, good, name="good") == set()


@pytest.mark.parametrize("case", CASES)
def test_a_reviewed_mark_lets_the_operation_through(case, tmp_path):
    bad, key, _ = CASES[case]
    others = unreviewed(tmp_path, bad, name="bad") - {key}
    marks = {k: "reviewed for the test" for k in {key, *others}}
    assert unreviewed(tmp_path, bad, reviewed=marks, name="marked") == set()


def test_a_mark_that_matches_nothing_is_an_error(tmp_path):
    found = unreviewed(tmp_path, 'online.add_column("posts", sa.Column("x", sa.Integer(), nullable=True))',
                       reviewed={"drop-column posts.y": "it was dropped, once"})
    assert found == {"stale-review drop-column posts.y"}


def test_dialect_branches_are_all_read(tmp_path):
    """A revision that does something on one database only is linted on that one."""
    body = ('if op.get_context().dialect.name == "postgresql":\n'
            '    op.create_index("ix_posts_title", "posts", ["title"])')
    assert unreviewed(tmp_path, body) == {"index-not-online posts.ix_posts_title"}


def test_a_batched_data_migration_that_commits_per_batch_is_read(tmp_path):
    body = ('bind = op.get_bind()\n'
            'while True:\n'
            '    with bind.begin():\n'
            '        done = bind.execute(sa.text("UPDATE posts SET view_count = 0 WHERE id IN '
            '(SELECT id FROM posts WHERE view_count < 0 LIMIT 1000)")).rowcount\n'
            '    bind.commit()\n'
            '    if not done:\n'
            '        break')
    assert unreviewed(tmp_path, body) == set()
    assert unreviewed(tmp_path, 'online.add_column("posts", sa.Column("x", sa.Integer(), nullable=True))\n' + body,
                      name="mixed") == {"data-with-schema upgrade"}


def test_a_revision_the_linter_cannot_read_is_named(tmp_path):
    module = revision(tmp_path, 'sa.inspect(op.get_bind()).get_table_names()')
    with pytest.raises(lint.LintError, match="cannot lint revision 9001 .*without a database"):
        lint.lint_module(module)


def test_the_report_says_what_to_paste(tmp_path):
    module = revision(tmp_path, 'online.drop_column("users", "image")\nop.drop_table("uploads")')
    text = lint.report(lint.problems(lint.lint_module(module)))
    assert "9001: drop-column users.image: a column dropped" in text
    assert '      reviewed = {\n          "drop-column users.image": "<why it is safe>",\n' \
           '          "drop-table uploads": "<why it is safe>",\n      }' in text


def test_the_history_passes_and_its_unsafe_steps_are_known():
    """Revisions up to the baseline are history: reported, reviewed as such, not rewritten."""
    findings = lint.lint_scripts()
    assert lint.problems(findings) == []
    keys = {(f.revision, f.key) for f in findings}
    assert {("0003", "data-with-schema upgrade"), ("0003", "not-null posts.description"),
            ("0007", "type-change tags.name"), ("0007", "drop-column users.write_version"),
            ("0010", "raw-ddl CREATE EXTENSION IF NOT EXISTS pg_trgm"),
            ("0010", "index-not-online posts.ix_posts_search_text_trgm")} <= keys
    assert all(f.reviewed == lint.HISTORY for f in findings if f.revision in REVISIONS[:REVISIONS.index(lint.BASELINE) + 1])


def test_every_revision_after_the_baseline_is_linted(tmp_path, monkeypatch):
    migrations_copy_with(tmp_path, monkeypatch, "9001_unsafe", '    op.drop_column("users", "bio")')
    script = ScriptDirectory.from_config(alembic_config())
    assert {(f.revision, f.key) for f in lint.problems(lint.lint_scripts(script))} == {
        ("9001", "drop-column users.bio"), ("9001", "column-not-online users.bio")}


def test_quart_db_lint_and_check(tmp_path, monkeypatch):
    runner = create_app(make_config(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")).test_cli_runner()
    linted = runner.invoke(args=["db", "lint", "--all"])
    assert linted.exit_code == 0, linted.output
    assert "0007: type-change tags.name (reviewed: history" in linted.output
    assert "no unreviewed operation" in linted.output

    migrations_copy_with(tmp_path, monkeypatch, "9001_unsafe", '    op.drop_column("users", "bio")')
    for command in ("lint", "check"):  # check refuses before it reads the database
        refused = runner.invoke(args=["db", command])
        assert refused.exit_code == 1
        assert "9001: drop-column users.bio: a column dropped" in refused.output
        assert '"drop-column users.bio": "<why it is safe>",' in refused.output
