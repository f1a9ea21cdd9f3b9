"""live test, EXPAND (data): body_chars from chars, in batches.

EXPAND (data): body_chars from chars for the rows that exist, in batches
of primary-key ranges (one short transaction each).  Rows the old release writes
after this are caught up by the contract step."""

from tests.live_migration.online import backfill

revision = "live_backfill"
down_revision = "live_expand"
branch_labels = None
depends_on = None


def upgrade() -> None:
    backfill("comments", "body_chars = chars", "body_chars IS NULL AND chars IS NOT NULL")


def downgrade() -> None:
    pass  # the column goes with live_expand's downgrade
