"""A FULLTEXT index on posts(title, body) for search, on MySQL/MariaDB only.

Other databases search with LIKE and get no index: upgrade and downgrade are
no-ops there.  InnoDB builds the index in place (no table copy after the first
FULLTEXT index, which adds the hidden FTS_DOC_ID column).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEX = "ix_posts_fulltext"


def _mysql() -> bool:
    return op.get_context().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    if _mysql():
        op.create_index(INDEX, "posts", ["title", "body"], unique=False, mysql_prefix="FULLTEXT")


def downgrade() -> None:
    if _mysql():
        op.drop_index(INDEX, table_name="posts")
