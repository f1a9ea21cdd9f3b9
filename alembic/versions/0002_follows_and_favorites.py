"""Follows between users and favorite posts (what the RealWorld API needs).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:16:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import quartblog.types

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MYSQL = dict(mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_520_ci", mysql_engine="InnoDB")


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("follower_id", sa.Integer(), nullable=False),
        sa.Column("followed_id", sa.Integer(), nullable=False),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("follower_id <> followed_id", name=op.f("ck_follows_not_self")),
        sa.ForeignKeyConstraint(["followed_id"], ["users.id"], name=op.f("fk_follows_followed_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["follower_id"], ["users.id"], name=op.f("fk_follows_follower_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("follower_id", "followed_id", name=op.f("pk_follows")),
        **MYSQL,
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index("ix_follows_followed_id", ["followed_id"], unique=False)
    op.create_table(
        "favorites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_favorites_post_id_posts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_favorites_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "post_id", name=op.f("pk_favorites")),
        **MYSQL,
    )
    with op.batch_alter_table("favorites", schema=None) as batch_op:
        batch_op.create_index("ix_favorites_post_id", ["post_id"], unique=False)


def downgrade() -> None:
    op.drop_table("favorites")
    op.drop_table("follows")
