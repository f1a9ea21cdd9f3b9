"""Fill the post counts of 0012 from the rows (data only).

Two statements whatever the size: ``counters.published_posts`` from ``posts``, and
``tag_counts`` from ``post_tags``. Run it again (``quart --app quartblog
recount``) once no release older than 0012's is writing: posts written by an
older release meanwhile are not counted by it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 15:31:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    counted = "posts.status = 'published' AND posts.published_at IS NOT NULL"
    op.execute("DELETE FROM counters WHERE name = 'published_posts'")
    op.execute(f"INSERT INTO counters (name, value) SELECT 'published_posts', COUNT(*) FROM posts WHERE {counted}")
    op.execute("DELETE FROM tag_counts")
    op.execute("INSERT INTO tag_counts (tag_id, posts) SELECT post_tags.tag_id, COUNT(*) FROM post_tags "
               f"JOIN posts ON posts.id = post_tags.post_id WHERE {counted} GROUP BY post_tags.tag_id")


def downgrade() -> None:
    op.execute("DELETE FROM tag_counts")
    op.execute("DELETE FROM counters WHERE name = 'published_posts'")
