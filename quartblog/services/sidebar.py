"""The sidebar every page shows: the newest posts and the most used tags, in one statement."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Integer, bindparam, cast, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import read_rows
from ..models import Post, Tag
from .counts import public_tag_uses
from ..types import utcnow
from .post_states import public_condition


@dataclass
class Sidebar:
    recent: list[tuple[str, str]]        # (slug, title), newest first
    popular: list[tuple[str, int]]       # (tag name, number of posts), most used first


async def load_sidebar(session: AsyncSession, size: int = 5) -> Sidebar:
    """Both lists in one round trip: a UNION ALL of two small queries."""
    rows = (await read_rows(session, _statement(size), {"now": utcnow()})).all()  # no drafts, nothing scheduled yet
    # UNION ALL keeps no order: sort each part again (five rows each)
    posts = sorted((r for r in rows if r.kind == 0), key=lambda r: (r.at, r.pid), reverse=True)
    tags = sorted((r for r in rows if r.kind == 1), key=lambda r: (-int(r.n), r.a))
    return Sidebar(recent=[(r.a, r.b) for r in posts], popular=[(r.a, int(r.n)) for r in tags])


@lru_cache(maxsize=8)
def _statement(size: int):
    """Built once per size: building it costs more than running it.  ``now`` is a
    bind parameter (drafts and posts scheduled later are left out)."""
    public = public_condition(bindparam("now"))
    recent = (
        select(Post.slug.label("a"), Post.title.label("b"), Post.published_at.label("at"), Post.id.label("pid"))
        .where(public).order_by(Post.published_at.desc(), Post.id.desc()).limit(size).subquery()
    )
    tags, uses = public_tag_uses(bindparam("now"))  # kept on write: no GROUP BY of post_tags
    popular = (
        select(Tag.name.label("a"), uses.label("n")).select_from(tags)
        .where(uses > 0).order_by(uses.desc(), Tag.name).limit(size).subquery()
    )
    return union_all(
        # kind 0: a post, 1: a tag (numbers: MySQL would refuse to mix a string
        # literal's collation with the columns')
        select(literal(0, Integer).label("kind"), recent.c.a, recent.c.b,
               cast(null(), Integer).label("n"), recent.c.at, recent.c.pid),
        select(literal(1, Integer), popular.c.a, null(), popular.c.n, null(), null()),
    )
