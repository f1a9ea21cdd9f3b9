"""live test, CONTRACT: comments.chars goes.

CONTRACT: comments.chars goes.  Runs once only the new release serves
(it neither reads nor writes chars): first the rows the old release wrote after the
expand step's backfill get their body_chars, then the column is dropped (MariaDB
INSTANT).

Downgrade: chars comes back (NULL-able) and is filled from body_chars before the old
release starts again."""

from tests.live_migration.online import add_nullable_column, backfill, drop_column, has_column

revision = "live_contract"
down_revision = "live_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if has_column("comments", "chars"):
        backfill("comments", "body_chars = chars", "body_chars IS NULL AND chars IS NOT NULL")
    drop_column("comments", "chars")


def downgrade() -> None:
    add_nullable_column("comments", "chars", "INTEGER")
    backfill("comments", "chars = body_chars", "chars IS NULL AND body_chars IS NOT NULL")
