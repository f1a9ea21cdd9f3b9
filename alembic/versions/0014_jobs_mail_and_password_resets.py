"""Mail and background work: the jobs table, mail deliveries, password resets, users.locale.

* ``jobs``: background work, written in the transaction of the change that causes it
  (an outbox), run by ``quart --app quartblog worker`` or the web process (quartblog/jobs/).
* ``mail_deliveries``: one row per message and recipient the mail server took, so that a
  job that runs again never sends the same message to the same person twice.
* ``password_resets``: "Forgot password?" links (the secret's SHA-256 only).
* ``users.locale``: the language of the mails a person gets (NULL: the site's default).

All additive: the release still running ignores them.  Downgrading drops them (queued
jobs and pending reset links are lost).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 00:50:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import quartblog.types
from quartblog.migrations import online

revision: str = "0014"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MYSQL = dict(mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_520_ci", mysql_engine="InnoDB")

# The migration linter's reviewed operations: {"<rule> <target>": "why it is safe"}.
reviewed: dict[str, str] = {}


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=191), nullable=True),
        sa.Column("state", sa.Enum("pending", "running", "done", "failed", name="job_state", native_enum=False,
                                   length=16), server_default="pending", nullable=False),
        sa.Column("run_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", quartblog.types.UTCDateTime(), nullable=True),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", quartblog.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("key", name=op.f("uq_jobs_key")),
        **MYSQL,
    )
    op.create_index("ix_jobs_state_run_at", "jobs", ["state", "run_at"], unique=False)
    op.create_table(
        "mail_deliveries",
        sa.Column("key", sa.String(length=191), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sent_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_mail_deliveries")),
        **MYSQL,
    )
    op.create_table(
        "password_resets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", quartblog.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_password_resets_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        **MYSQL,
    )
    op.create_index("ix_password_resets_user_id_created_at", "password_resets", ["user_id", "created_at"],
                    unique=False)
    online.add_column("users", sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    online.drop_column("users", "locale")
    op.drop_table("password_resets")
    op.drop_table("mail_deliveries")
    op.drop_table("jobs")
