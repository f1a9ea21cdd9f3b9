"""What ``/sitemap.xml`` lists: public posts, the tags and the authors they have,
each with the time it last changed.  Drafts and scheduled posts are not there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Post, Tag, User, post_tags
from ..types import utcnow
from .post_states import public_condition

# A sitemap file holds at most 50,000 URLs (sitemaps.org): the newest posts first.
POSTS_MAX = 40_000
TAGS_MAX = 5_000
AUTHORS_MAX = 4_999


@dataclass
class SitemapEntries:
    posts: list[tuple[str, datetime]]     # (slug, updated_at), newest first
    tags: list[tuple[str, datetime]]      # (name, latest update of its posts)
    authors: list[tuple[str, datetime]]   # (username, latest update of their posts)

    @property
    def lastmod(self) -> datetime | None:
        return max((at for _, at in self.posts), default=None)


async def sitemap_entries(session: AsyncSession) -> SitemapEntries:
    public = public_condition(utcnow())
    posts = (await session.execute(
        select(Post.slug, Post.updated_at).where(public)
        .order_by(Post.published_at.desc(), Post.id.desc()).limit(POSTS_MAX))).all()
    latest = func.max(Post.updated_at)
    tags = (await session.execute(
        select(Tag.name, latest).join(post_tags, post_tags.c.tag_id == Tag.id)
        .join(Post, Post.id == post_tags.c.post_id).where(public)
        .group_by(Tag.id, Tag.name).order_by(latest.desc()).limit(TAGS_MAX))).all()
    authors = (await session.execute(
        select(User.username, latest).join(Post, Post.author_id == User.id).where(public)
        .group_by(User.id, User.username).order_by(latest.desc()).limit(AUTHORS_MAX))).all()
    return SitemapEntries(posts=[(s, at) for s, at in posts], tags=[(n, _aware(at)) for n, at in tags],
                          authors=[(u, _aware(at)) for u, at in authors])


def _aware(value) -> datetime:
    """max() of a UTCDateTime column: through the type's result processing (aware UTC),
    but be sure (a driver may hand back naive or text values for an aggregate)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
