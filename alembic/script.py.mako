"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
# Before committing, read what autogenerate wrote (README, "Migrations"):
# * a rename shows up as drop + add: use alter_column(new_column_name=...) instead;
# * server defaults must work on every database: sa.text("CURRENT_TIMESTAMP"), not now();
# * data changes are written by hand, and the downgrade must work;
# * a step that reads rows needs an offline branch for --sql (context.is_offline_mode(), see 0003);
# * `quart --app quartblog db lint` must pass (docs/migrations.md): columns and indexes of existing
#   tables through quartblog.migrations.online, data in a revision of its own, drops and renames
#   only as a contract step; an operation that is safe anyway goes in `reviewed` with the reason.
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import quartblog.types
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}

# The migration linter's reviewed operations: {"<rule> <target>": "why it is safe"}.
reviewed: dict[str, str] = {}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
