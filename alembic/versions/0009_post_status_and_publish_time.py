"""Drafts and scheduled posts: posts.status and posts.published_at.

* ``status`` is ``draft`` or ``published``; a published post whose
  ``published_at`` (UTC) is still ahead is scheduled, and appears at that time
  through the lists' condition (``status = 'published' AND published_at <= now``).
* Every existing post becomes published, with its created time as publish time.
* Lists order by ``published_at``: ``(status, published_at, id)`` replaces
  ``(created_at, id)``, and ``(author_id, published_at)`` replaces
  ``(author_id, created_at)`` (created first: it is the foreign key's index on MySQL).

Downgrading keeps every post, drafts and scheduled ones included: the older schema
cannot hide a post, so they become visible (created time unchanged).

Revision ID: 0009 (shipped as 0008 until the renumbering: quartblog/migrations/renumbered.py)
Revises: 0008
Create Date: 2026-11-25 13:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import quartblog.types

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("status", sa.Enum("draft", "published", name="post_status",
                                                       native_enum=False, length=16),
                                     server_default="published", nullable=False))
    op.add_column("posts", sa.Column("published_at", quartblog.types.UTCDateTime(), nullable=True))
    op.execute("UPDATE posts SET published_at = created_at")
    op.create_index("ix_posts_status_published_at_id", "posts", ["status", "published_at", "id"])
    op.create_index("ix_posts_author_id_published_at", "posts", ["author_id", "published_at"])
    op.drop_index("ix_posts_author_id_created_at", table_name="posts")
    op.drop_index("ix_posts_created_at_id", table_name="posts")


def downgrade() -> None:
    op.create_index("ix_posts_created_at_id", "posts", ["created_at", "id"])
    op.create_index("ix_posts_author_id_created_at", "posts", ["author_id", "created_at"])
    op.drop_index("ix_posts_author_id_published_at", table_name="posts")
    op.drop_index("ix_posts_status_published_at_id", table_name="posts")
    op.drop_column("posts", "published_at")
    op.drop_column("posts", "status")
