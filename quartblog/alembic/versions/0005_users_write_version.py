"""Users get a write counter, part of the key of their cached API responses.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("write_version", sa.Integer(), server_default="0", nullable=False))


def _users_as_it_was() -> sa.Table:
    """The users table at this revision: batch mode on SQLite rebuilds the table to drop
    a column, and offline (``--sql``) it cannot read the table from a database."""
    import quartblog.types

    return sa.Table(
        "users", sa.MetaData(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("image", sa.String(500), nullable=True),
        sa.Column("role", sa.Enum("admin", "author", "reader", name="role", native_enum=False, length=16),
                  nullable=False),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("write_version", sa.Integer(), server_default="0", nullable=False),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )


def downgrade() -> None:
    copy_from = _users_as_it_was() if context.is_offline_mode() else None
    with op.batch_alter_table("users", schema=None, copy_from=copy_from) as batch_op:
        batch_op.drop_column("write_version")
