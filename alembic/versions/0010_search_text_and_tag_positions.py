"""Search that finds Chinese and mixed text; tags keep the order they were written in.

* ``posts.search_text``: the post's normalized words, CJK runs cut into 3-character
  tokens (the rule is in ``quartblog/services/search.py``; a frozen copy is below), filled
  for existing posts in batches; indexed by FULLTEXT on MySQL/MariaDB (replacing the
  index on ``title, body`` of 0004) and by trigrams on PostgreSQL (``pg_trgm``, GIN).
* ``post_tags.position``: the tag's place in its post's list; existing tags are
  numbered by name (the order they were shown in until now).

Offline (``--sql``) the fills are left out: ``search_text`` stays NULL (those posts are
not found until edited; run the upgrade online instead) and every position is 0, which
shows tags by name, as before.  Downgrading keeps the ``pg_trgm`` extension (other
objects may use it).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 13:10:00

"""
import re
import unicodedata
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import mysql

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BATCH = 500
OLD_FULLTEXT = "ix_posts_fulltext"
FULLTEXT = "ix_posts_search_text"
TRIGRAM = "ix_posts_search_text_trgm"
SEARCH_TEXT_TYPE = sa.Text().with_variant(mysql.MEDIUMTEXT(collation="utf8mb4_bin"), "mysql", "mariadb")

posts = sa.table("posts", sa.column("id", sa.Integer()), sa.column("title", sa.String()),
                 sa.column("body", sa.Text()), sa.column("search_text", sa.Text()))
post_tags = sa.table("post_tags", sa.column("post_id", sa.Integer()), sa.column("tag_id", sa.Integer()),
                     sa.column("position", sa.Integer()))
tags = sa.table("tags", sa.column("id", sa.Integer()), sa.column("name", sa.String()))

# --- frozen copy of quartblog.text.search.search_text (a migration must do the
# same thing in a year as it does today) ---------------------------------------------
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_TOKENS = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for cjk, word in _TOKENS.findall(unicodedata.normalize("NFKC", text or "").casefold()):
        if cjk:
            padded = cjk + "__"
            out.extend(padded[i:i + 3] for i in range(len(cjk)))
        else:
            out.append(word[:60])
    return out


def search_text(title: str | None, body: str | None) -> str:
    return " " + " ".join(_tokens(title or "") + _tokens(body or "")) + " "
# ---------------------------------------------------------------------------------------


def _dialect() -> str:
    return op.get_context().dialect.name


def _fill_search_text(conn) -> None:
    last_id = 0
    while True:
        rows = conn.execute(sa.select(posts.c.id, posts.c.title, posts.c.body)
                            .where(posts.c.id > last_id).order_by(posts.c.id).limit(BATCH)).all()
        if not rows:
            return
        conn.execute(posts.update().where(posts.c.id == sa.bindparam("pid"))
                     .values(search_text=sa.bindparam("st")),
                     [{"pid": r.id, "st": search_text(r.title, r.body)} for r in rows])
        last_id = rows[-1].id


def _number_tags(conn) -> None:
    """Positions by tag name, a batch of posts at a time (position 0 is the default)."""
    last_post = 0
    while True:
        post_ids = list(conn.scalars(sa.select(post_tags.c.post_id).distinct()
                                     .where(post_tags.c.post_id > last_post)
                                     .order_by(post_tags.c.post_id).limit(BATCH)))
        if not post_ids:
            return
        rows = conn.execute(sa.select(post_tags.c.post_id, post_tags.c.tag_id)
                            .join(tags, tags.c.id == post_tags.c.tag_id)
                            .where(post_tags.c.post_id.in_(post_ids))
                            .order_by(post_tags.c.post_id, tags.c.name)).all()
        updates, previous, n = [], None, 0
        for row in rows:
            n = n + 1 if row.post_id == previous else 0
            previous = row.post_id
            if n:
                updates.append({"pid": row.post_id, "tid": row.tag_id, "pos": n})
        if updates:
            conn.execute(post_tags.update()
                         .where(post_tags.c.post_id == sa.bindparam("pid"),
                                post_tags.c.tag_id == sa.bindparam("tid"))
                         .values(position=sa.bindparam("pos")), updates)
        last_post = post_ids[-1]


def upgrade() -> None:
    dialect = _dialect()
    op.add_column("post_tags", sa.Column("position", sa.Integer(), server_default="0", nullable=False))
    op.add_column("posts", sa.Column("search_text", SEARCH_TEXT_TYPE, nullable=True))
    if not context.is_offline_mode():
        conn = op.get_bind()
        _number_tags(conn)
        _fill_search_text(conn)
    # The indexes after the fill: one build instead of row-by-row maintenance.
    if dialect in ("mysql", "mariadb"):
        op.drop_index(OLD_FULLTEXT, table_name="posts")
        op.create_index(FULLTEXT, "posts", ["search_text"], unique=False, mysql_prefix="FULLTEXT")
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(TRIGRAM, "posts", ["search_text"], unique=False, postgresql_using="gin",
                        postgresql_ops={"search_text": "gin_trgm_ops"})


def downgrade() -> None:
    dialect = _dialect()
    if dialect in ("mysql", "mariadb"):
        op.drop_index(FULLTEXT, table_name="posts")
        op.create_index(OLD_FULLTEXT, "posts", ["title", "body"], unique=False, mysql_prefix="FULLTEXT")
    elif dialect == "postgresql":
        op.drop_index(TRIGRAM, table_name="posts")
    # Plain DROP COLUMN, on SQLite too (3.35+; neither column is in a key or an index there).
    op.drop_column("posts", "search_text")
    op.drop_column("post_tags", "position")
