"""Mail, part two: verified addresses, comment notifications, subscribers.

* ``users.email_verified_at``: when the account's address was shown to be theirs
  (NULL: not yet, as every account that predates this revision).
* ``users.notify_comments``: mail me about comments on my posts (on by default).
* ``email_verifications``: links mailed to an address to verify it (the secret's SHA-256).
* ``subscribers``: readers, with or without an account, who get new posts by mail once
  they confirmed (double opt-in).

Additive: the release still running ignores them.  Downgrading drops them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 00:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import quartblog.types
from quartblog.migrations import online

revision: str = "0015"
down_revision: Union[str, Sequence[str], None] = "0014"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MYSQL = dict(mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_520_ci", mysql_engine="InnoDB")

# The migration linter's reviewed operations: {"<rule> <target>": "why it is safe"}.
reviewed: dict[str, str] = {}


def upgrade() -> None:
    online.add_column("users", sa.Column("email_verified_at", quartblog.types.UTCDateTime(), nullable=True))
    online.add_column("users", sa.Column("notify_comments", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        "email_verifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", quartblog.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_email_verifications_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verifications")),
        **MYSQL,
    )
    op.create_index("ix_email_verifications_user_id_created_at", "email_verifications", ["user_id", "created_at"],
                    unique=False)
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", quartblog.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_subscribers_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("email", name=op.f("uq_subscribers_email")),
        **MYSQL,
    )
    op.create_index("ix_subscribers_user_id", "subscribers", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("subscribers")
    op.drop_table("email_verifications")
    online.drop_column("users", "notify_comments")
    online.drop_column("users", "email_verified_at")
