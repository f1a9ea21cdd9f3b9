"""Uploaded images (post pictures, avatars): who uploaded which stored file.

Revision ID: 0008 (shipped as 0011 until the renumbering: quartblog/migrations/renumbered.py)
Revises: 0007
Create Date: 2026-11-25 13:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import quartblog.types

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MYSQL = dict(mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_520_ci", mysql_engine="InnoDB")


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_uploads_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
        **MYSQL,
    )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.create_index("ix_uploads_user_id", ["user_id"], unique=False)
        batch_op.create_index("ix_uploads_name", ["name"], unique=False)


def downgrade() -> None:
    op.drop_table("uploads")
