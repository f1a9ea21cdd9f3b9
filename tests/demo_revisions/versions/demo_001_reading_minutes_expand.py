"""demo: posts.reading_minutes (filled by demo_002) and posts.backfill_runs (expand)

``backfill_runs`` counts how many times a batch wrote the row: 1 for every row after
the backfill, however many times it was killed and run again.

Revision ID: demo_001
Revises:
Create Date: 2026-11-25 15:40:00

"""
import sqlalchemy as sa

from quartblog.migrations import rerunnable

revision = "demo_001"
down_revision = None
branch_labels = ("demo",)
depends_on = "0001"  # posts


def upgrade() -> None:
    rerunnable.add_column("posts", sa.Column("reading_minutes", sa.Integer(), nullable=True))
    rerunnable.add_column("posts", sa.Column("backfill_runs", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    rerunnable.drop_column("posts", "backfill_runs")
    rerunnable.drop_column("posts", "reading_minutes")
