"""The migration linter reads ``downgrade()`` as it reads ``upgrade()`` (issue 22), and knows
``via="pt-osc"``: an operation MariaDB runs through pt-online-schema-change does not block
writes, whatever its lock.  No database (see tests/test_migration_lint.py).
"""

from __future__ import annotations

import textwrap

from alembic.util import load_python_file

from quartblog.migrations import lint

HEADER = """\
import sqlalchemy as sa
from alembic import op

from quartblog.migrations import online

revision = "9002"
down_revision = "0013"
"""


def revision(tmp_path, upgrade: str = "pass", downgrade: str = "pass", reviewed: dict[str, str] | None = None,
             name: str = "rev"):
    source = HEADER + (f"reviewed = {reviewed!r}\n" if reviewed else "")
    for function, body in (("upgrade", upgrade), ("downgrade", downgrade)):
        source += f"\n\ndef {function}():\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return load_python_file(str(tmp_path), path.name)


def unreviewed(tmp_path, **kwargs) -> set[str]:
    return {f.key for f in lint.problems(lint.lint_module(revision(tmp_path, **kwargs)))}


def test_a_blocking_operation_in_a_downgrade_is_reported(tmp_path):
    found = unreviewed(tmp_path, upgrade='online.create_index("ix_comments_body", "comments", ["body"])',
                       downgrade='op.drop_index("ix_comments_body", table_name="comments")\n'
                                 'online.add_column("posts", sa.Column("pinned", sa.Boolean(), nullable=True), '
                                 'algorithm="INPLACE", lock="SHARED")')
    assert found == {"index-not-online comments.ix_comments_body (downgrade)", "blocking-ddl posts.pinned (downgrade)"}


def test_the_report_names_the_downgrade(tmp_path):
    module = revision(tmp_path, downgrade='op.drop_table("uploads")')
    text = lint.report(lint.problems(lint.lint_module(module)))
    assert "9002: drop-table uploads (downgrade): a table dropped" in text
    assert '"drop-table uploads (downgrade)": "<why it is safe>",' in text


def test_a_mark_for_the_upgrade_does_not_excuse_the_downgrade(tmp_path):
    body = 'online.drop_column("users", "image")'
    assert unreviewed(tmp_path, upgrade=body, downgrade=body, reviewed={"drop-column users.image": "contract"}) \
        == {"drop-column users.image (downgrade)"}
    assert unreviewed(tmp_path, upgrade=body, downgrade=body, name="both", reviewed={
        "drop-column users.image": "contract", "drop-column users.image (downgrade)": "the way back"}) == set()


def test_data_with_schema_in_a_downgrade(tmp_path):
    assert unreviewed(tmp_path, downgrade='online.drop_column("tags", "post_count")\n'
                                          'op.execute("UPDATE tags SET name = name")',
                      reviewed={"drop-column tags.post_count (downgrade)": "the way back"}) \
        == {"data-with-schema downgrade"}


def test_via_pt_osc_is_not_blocking_ddl(tmp_path):
    blocking = 'online.add_column("posts", sa.Column("pinned", sa.Boolean(), nullable=True), lock="SHARED"{via})'
    assert unreviewed(tmp_path, upgrade=blocking.format(via="")) == {"blocking-ddl posts.pinned"}
    assert unreviewed(tmp_path, upgrade=blocking.format(via=', via="pt-osc"'), name="osc") == set()
    assert unreviewed(tmp_path, upgrade='online.add_column("posts", sa.Column("pinned", sa.Boolean()), via="pt-osc")',
                      downgrade='online.drop_column("posts", "pinned", via="pt-osc")', name="both") == set()


def test_every_shipped_revision_passes_up_and_down():
    findings = lint.lint_scripts()
    assert lint.problems(findings) == []
    downgrades = {(f.revision, f.key): f.reviewed for f in findings if f.function == "downgrade"}
    # dropping what the same revision's upgrade created is no finding (the release it returns
    # to never used it); a blocking drop still is, here reviewed as history
    assert ("0012", "drop-table counters (downgrade)") not in downgrades
    assert ("0010", "drop-column posts.search_text (downgrade)") not in downgrades
    assert downgrades[("0010", "column-not-online posts.search_text (downgrade)")] == lint.HISTORY


def test_a_downgrade_dropping_what_its_upgrade_did_not_create_is_found(tmp_path):
    assert unreviewed(tmp_path, upgrade='op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True))',
                      downgrade='op.drop_table("notes")\nop.drop_table("comments")', name="drops") == {
        "drop-table comments (downgrade)"}
