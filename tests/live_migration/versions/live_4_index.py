"""live test, EXPAND (index): comments (body_chars), built online.

EXPAND (index): comments (body_chars), built while the table is read and
written: MariaDB ALGORITHM=INPLACE, LOCK=NONE; PostgreSQL CONCURRENTLY."""

from tests.live_migration.online import create_index, drop_index

revision = "live_index"
down_revision = "live_backfill"
branch_labels = None
depends_on = None

INDEX = "ix_comments_body_chars"


def upgrade() -> None:
    create_index(INDEX, "comments", ["body_chars"])


def downgrade() -> None:
    drop_index(INDEX, "comments")
