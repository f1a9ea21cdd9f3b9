"""Sign-ins on the site, one row per signed-in browser: revocable server-side.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 12:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import quartblog.types

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MYSQL = dict(mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_520_ci", mysql_engine="InnoDB")


def upgrade() -> None:
    op.create_table(
        "sign_ins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sign_ins_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_ins")),
        **MYSQL,
    )
    with op.batch_alter_table("sign_ins", schema=None) as batch_op:
        batch_op.create_index("ix_sign_ins_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("sign_ins")
