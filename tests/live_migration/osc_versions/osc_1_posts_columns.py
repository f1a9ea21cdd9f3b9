"""pt-osc scenario, EXPAND (schema): two columns on ``posts``, through pt-online-schema-change
on MariaDB (its FULLTEXT index rules out an in-place ALTER that lets writes go on), the
backend's online path elsewhere.  ``reading_minutes`` is what the backfill (osc_2) fills;
``backfill_runs`` counts the times a row was written by it (a row written twice shows 2).
"""

import sqlalchemy as sa

from quartblog.migrations import online
from tests.live_migration.revisions import project_head

revision = "osc_columns"
down_revision = project_head()
branch_labels = None
depends_on = None


def upgrade() -> None:
    online.add_column("posts", sa.Column("reading_minutes", sa.Integer(), nullable=True), via="pt-osc")
    online.add_column("posts", sa.Column("backfill_runs", sa.Integer(), server_default="0", nullable=False),
                      via="pt-osc")


def downgrade() -> None:
    online.drop_column("posts", "backfill_runs", via="pt-osc")
    online.drop_column("posts", "reading_minutes", via="pt-osc")
