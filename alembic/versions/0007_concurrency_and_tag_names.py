"""Writes without row locks on users, and one rule for tag names on every database.

* ``users.write_version`` goes: the response cache no longer keeps per-user copies,
  and bumping it inside every write took a row lock on the writer's ``users`` row
  that deadlocked with the foreign-key checks of their concurrent inserts.
* ``tags.name`` compares code point by code point on MySQL/MariaDB too
  (``utf8mb4_bin``), as it does on PostgreSQL and SQLite: the application
  normalizes names (NFKC, lower case: ``services.tags.normalize_tag``), and names
  that still differ, such as ``cafe`` and ``café``, are two tags everywhere.
  Downgrading merges tags that the old accent- and case-insensitive collation
  would take for one (their posts keep the tag with the lowest id).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 12:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BINARY = "utf8mb4_bin"
OLD = "utf8mb4_unicode_520_ci"
# Tags that the old collation takes for one: (duplicate id, id kept).
_DUPLICATES = f"""
    SELECT d.id AS dup, MIN(k.id) AS keep FROM tags d
    JOIN tags k ON k.name COLLATE {OLD} = d.name COLLATE {OLD} AND k.id < d.id
    GROUP BY d.id"""


def _mysql() -> bool:
    return op.get_context().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    # A plain DROP COLUMN, on SQLite too (3.35+): no table rebuild, and --sql works.
    op.drop_column("users", "write_version")
    if _mysql():
        op.alter_column("tags", "name", existing_type=mysql.VARCHAR(64, collation=OLD),
                        type_=mysql.VARCHAR(64, collation=BINARY), existing_nullable=False)


def downgrade() -> None:
    if _mysql():
        op.execute(f"UPDATE IGNORE post_tags pt JOIN ({_DUPLICATES}) m ON m.dup = pt.tag_id "
                   "SET pt.tag_id = m.keep")
        op.execute(f"DELETE FROM tags WHERE id IN (SELECT dup FROM ({_DUPLICATES}) m)")
        op.alter_column("tags", "name", existing_type=mysql.VARCHAR(64, collation=BINARY),
                        type_=mysql.VARCHAR(64, collation=OLD), existing_nullable=False)
    op.add_column("users", sa.Column("write_version", sa.Integer(), server_default="0", nullable=False))
