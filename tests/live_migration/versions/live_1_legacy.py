"""live test, step 0: the legacy column comments.chars.

step 0: comments.chars, the column the old release writes (its body's length).
Set up before the load starts (not under traffic).  Branches from the project's head,
whatever it is when the test runs.
"""

from alembic import op

from tests.live_migration.online import add_nullable_column, backfill, drop_column
from tests.live_migration.revisions import project_head

revision = "live_legacy"
down_revision = project_head()
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_nullable_column("comments", "chars", "INTEGER")
    backfill("comments", "chars = " + char_length(), "chars IS NULL")


def downgrade() -> None:
    drop_column("comments", "chars")


def char_length() -> str:
    return "LENGTH(body)" if op.get_bind().dialect.name == "sqlite" else "CHAR_LENGTH(body)"
