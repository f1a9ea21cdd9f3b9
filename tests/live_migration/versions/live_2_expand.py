"""live test, EXPAND (schema): the new column comments.body_chars.

EXPAND (schema): comments.body_chars, which the new release writes instead
of comments.chars.  NULL-able and without a default, so the old release's INSERTs
(which do not name it) keep working; MariaDB adds it INSTANT, PostgreSQL only
changes the catalog (its lock wait bounded, see online.py).

Downgrade: the old release, serving again, writes only ``chars``; the rows the new
release wrote since the contract step was undone get their ``chars`` from
``body_chars`` before it goes.
"""

from tests.live_migration.online import backfill, drop_column, has_column, add_nullable_column

revision = "live_expand"
down_revision = "live_legacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_nullable_column("comments", "body_chars", "INTEGER")


def downgrade() -> None:
    if has_column("comments", "body_chars") and has_column("comments", "chars"):
        backfill("comments", "chars = body_chars", "chars IS NULL AND body_chars IS NOT NULL")
    drop_column("comments", "body_chars")
