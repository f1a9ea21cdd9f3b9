"""demo: three schema operations; the second fails while DEMO_FAIL=1

1. posts.summary_chars (a new column), 2. (fails while ``DEMO_FAIL=1``: a statement the
database refuses), 3. an index on posts.reading_minutes.  Written with ``rerunnable``
(``DEMO_PLAIN_DDL=1``: with plain ``op`` calls, to show what happens without it).

Revision ID: demo_003
Revises: demo_002
Create Date: 2026-11-25 15:42:00

"""
import os

import sqlalchemy as sa
from alembic import op

from quartblog.migrations import rerunnable

revision = "demo_003"
down_revision = "demo_002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ddl = op if os.environ.get("DEMO_PLAIN_DDL") == "1" else rerunnable
    ddl.add_column("posts", sa.Column("summary_chars", sa.Integer(), nullable=True))
    if os.environ.get("DEMO_FAIL") == "1":
        op.execute("SELECT demo_no_such_column FROM posts")  # the cause, "fixed" by clearing DEMO_FAIL
    ddl.create_index("ix_posts_reading_minutes", "posts", ["reading_minutes"])


def downgrade() -> None:
    rerunnable.drop_index("ix_posts_reading_minutes", table_name="posts")
    rerunnable.drop_column("posts", "summary_chars")
