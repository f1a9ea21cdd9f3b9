"""Posts get a description; existing posts get one made from their body.

A data migration: the column is added as nullable, filled for every existing
row from the first paragraph of the Markdown body (in batches), then made
NOT NULL.  Offline (``--sql``) the fill is a plain SQL prefix of the body.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 08:17:00

"""
import re
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LENGTH = 200
BATCH = 1000

posts = sa.table(
    "posts",
    sa.column("id", sa.Integer()),
    sa.column("body", sa.Text()),
    sa.column("description", sa.String(500)),
)


def summarize(body: str) -> str:
    """First paragraph of Markdown as plain text, at most LENGTH characters.

    Kept here, frozen, rather than imported from the app: a migration must do
    the same thing in a year as it does today.
    """
    for block in re.split(r"\n\s*\n", body or ""):
        text = re.sub(r"^\s{0,3}(#{1,6}\s+|[-*+]\s+|>\s?|\d+\.\s+)", "", block.strip(), flags=re.M)
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: keep the text
        text = re.sub(r"[*_`~]+", "", text)
        text = " ".join(text.split())
        if text:
            if len(text) > LENGTH:
                text = text[: LENGTH - 1].rsplit(" ", 1)[0] + "…"
            return text
    return ""


def _posts_as_it_was(description_nullable: bool | None) -> sa.Table:
    """The whole posts table at this revision, for batch mode without a live
    database (``--sql`` on SQLite cannot reflect it)."""
    from sqlalchemy.dialects import mysql

    import quartblog.types

    columns = [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(255), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mariadb", "mysql"), nullable=False),
        sa.Column("created_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", quartblog.types.UTCDateTime(), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE",
                                                          name="fk_posts_author_id_users"), nullable=False),
        sa.Column("view_count", sa.Integer(), server_default="0", nullable=False),
    ]
    if description_nullable is not None:
        columns.append(sa.Column("description", sa.String(500), nullable=description_nullable))
    return sa.Table(
        "posts", sa.MetaData(), *columns,
        sa.UniqueConstraint("slug", name="uq_posts_slug"),
        sa.Index("ix_posts_author_id_created_at", "author_id", "created_at"),
        sa.Index("ix_posts_created_at_id", "created_at", "id"),
    )


def _batch(description_nullable: bool | None):
    if context.is_offline_mode():
        return op.batch_alter_table("posts", copy_from=_posts_as_it_was(description_nullable))
    return op.batch_alter_table("posts", schema=None)


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.String(length=500), nullable=True))

    if context.is_offline_mode():
        op.execute(posts.update().values(description=sa.func.substr(posts.c.body, 1, LENGTH)))
    else:
        conn = op.get_bind()
        last_id = 0
        while True:
            rows = conn.execute(
                sa.select(posts.c.id, posts.c.body).where(posts.c.id > last_id)
                .order_by(posts.c.id).limit(BATCH)
            ).all()
            if not rows:
                break
            conn.execute(
                posts.update().where(posts.c.id == sa.bindparam("pid")).values(description=sa.bindparam("d")),
                [{"pid": row.id, "d": summarize(row.body)} for row in rows],
            )
            last_id = rows[-1].id

    with _batch(description_nullable=True) as batch_op:
        batch_op.alter_column("description", existing_type=sa.String(length=500), nullable=False)


def downgrade() -> None:
    with _batch(description_nullable=False) as batch_op:
        batch_op.drop_column("description")
