"""Moderation and the admin: comment states, disabled accounts, settings, the audit log.

* ``comments.state``: ``published`` (the default: every existing comment stays shown),
  ``hidden`` (by a moderator) or ``pending`` (held for approval), with an index for
  the moderation queue.
* ``users.disabled``: a disabled account cannot sign in, and its sign-ins and API
  tokens stop working.
* ``settings``: key/value settings that admins change at run time.
* ``audit_log``: every admin action (who, what, target, when).

Downgrading drops them: hidden and held comments become shown again, disabled
accounts can sign in again, the settings and the audit log are lost.

Revision ID: 0011 (shipped as 0009 until the renumbering: quartblog/migrations/renumbered.py)
Revises: 0010
Create Date: 2026-11-25 13:05:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import quartblog.types

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MYSQL = dict(mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_520_ci", mysql_engine="InnoDB")


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite 3.35+ too): no table rebuild.
    op.add_column("comments", sa.Column(
        "state", sa.Enum("published", "hidden", "pending", name="comment_state", native_enum=False, length=16),
        server_default="published", nullable=False))
    op.create_index("ix_comments_state_id", "comments", ["state", "id"], unique=False)
    op.add_column("users", sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
        **MYSQL,
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        **MYSQL,
    )
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("settings")
    op.drop_column("users", "disabled")
    op.drop_index("ix_comments_state_id", table_name="comments")
    op.drop_column("comments", "state")
