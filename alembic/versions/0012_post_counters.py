"""Post counts kept on write: ``counters`` and ``tag_counts`` (schema only).

Lists, the sidebar and ``/api/tags`` read these numbers instead of counting
``posts`` and ``post_tags`` on every request (services/counts.py). This revision
only adds them (additive: the running release ignores them); 0013 fills them.

* ``counters``: named numbers; ``published_posts`` is the one kept today.
* ``tag_counts``: per tag, its posts whose status is published (a table of its own:
  writers lock its rows last, apart from the tag rows; see services/counts.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 15:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MYSQL = dict(mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_520_ci", mysql_engine="InnoDB")


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
        **MYSQL,
    )
    op.create_table(
        "tag_counts",
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("posts", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_tag_counts_tag_id_tags"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tag_id", name=op.f("pk_tag_counts")),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("tag_counts")
    op.drop_table("counters")
