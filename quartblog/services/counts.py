"""Post counts kept on write, so that reading a list never counts its rows: published
posts in all (``counters``) and per tag (``tag_counts``), scheduled ones included and
subtracted by readers until their time comes.  Every write that changes them runs inside
``changing(session, post_ids)`` (a new post: ``count_new``), which adds the difference as
the transaction's last write; ``recount`` and ``drift`` check them against the rows.
docs/architecture.md, "Counts kept on write", says why it never deadlocks."""

from __future__ import annotations

from collections import Counter as Tally
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator

from sqlalchemy import func, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .post_states import dated_condition, scheduled_condition
from ..types import MYSQL_DIALECTS
from ..models import Counter, Post, Tag, TagCount, post_tags

PUBLISHED_POSTS = "published_posts"


# The posts that the kept numbers count, and those of them still to come.
_counted_condition = dated_condition
_scheduled_later = scheduled_condition


# --- reading -----------------------------------------------------------------------------

def public_total(now):
    """SQL: how many posts everyone sees now (status published, time come)."""
    kept = select(Counter.value).where(Counter.name == PUBLISHED_POSTS).correlate(None).scalar_subquery()
    later = select(func.count(Post.id)).where(_scheduled_later(now)).correlate(None).scalar_subquery()
    return func.coalesce(kept, 0) - later


def public_tag_total(name, now):
    """SQL: how many posts everyone sees now with the tag called ``name``."""
    kept = (select(TagCount.posts).join(Tag, Tag.id == TagCount.tag_id)
            .where(Tag.name == name).correlate(None).scalar_subquery())
    later = (select(func.count(Post.id))
             .join(post_tags, post_tags.c.post_id == Post.id)
             .join(Tag, Tag.id == post_tags.c.tag_id)
             .where(Tag.name == name, _scheduled_later(now)).correlate(None).scalar_subquery())
    return func.coalesce(kept, 0) - later


def public_tag_uses(now):
    """(from-clause, uses): ``tags`` joined to their kept counts and to their posts
    scheduled for later, and each tag's number of public posts: lists of tags by use
    select from the one and order by the other."""
    later = (select(post_tags.c.tag_id, func.count().label("n"))
             .select_from(Post).join(post_tags, post_tags.c.post_id == Post.id)
             .where(_scheduled_later(now)).group_by(post_tags.c.tag_id).subquery("later"))
    tags = (Tag.__table__.join(TagCount, TagCount.tag_id == Tag.id)
            .outerjoin(later, later.c.tag_id == Tag.id))
    return tags, TagCount.posts - func.coalesce(later.c.n, 0)


# --- keeping them ------------------------------------------------------------------------

@dataclass
class Count:
    """Counted posts, and how many of them carry each tag (by id)."""

    posts: int = 0
    tags: Tally = field(default_factory=Tally)

    def __sub__(self, other: "Count") -> "Count":
        tags = Tally(self.tags)
        tags.subtract(other.tags)
        return Count(self.posts - other.posts, Tally({k: n for k, n in tags.items() if n}))


async def _tally(session: AsyncSession, post_ids: list[int], *, lock: bool = False) -> Count:
    if not post_ids:
        return Count()
    if lock:  # a concurrent change of the same posts waits, then tallies what it left
        await session.execute(select(Post.id).where(Post.id.in_(sorted(post_ids)))
                              .order_by(Post.id).with_for_update())
    rows = (await session.execute(
        select(Post.id, post_tags.c.tag_id)
        .outerjoin(post_tags, post_tags.c.post_id == Post.id)
        .where(Post.id.in_(post_ids), _counted_condition()))).all()
    return Count(len({row.id for row in rows}), Tally(row.tag_id for row in rows if row.tag_id is not None))


def _add_to(session: AsyncSession, table, key: str, value: str, rows: list[dict]):
    """One statement that adds ``rows``' values to the rows with their keys, creating
    the missing ones: an upsert whose update is ``value = value + the new value``."""
    dialect = (session.dialect if isinstance(session, AsyncConnection) else session.get_bind().dialect).name
    column = table.c[value]
    if dialect in MYSQL_DIALECTS:
        statement = mysql.insert(table).values(rows)
        return statement.on_duplicate_key_update({value: column + statement.inserted[value]})
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).values(rows)
    return statement.on_conflict_do_update(index_elements=[key], set_={value: column + statement.excluded[value]})


async def _apply(session: AsyncSession, change: Count) -> None:
    """Add ``change``: tags in id order, then the total (the order every writer uses)."""
    if change.tags:
        rows = [{"tag_id": tag_id, "posts": n} for tag_id, n in sorted(change.tags.items())]
        await session.execute(_add_to(session, TagCount.__table__, "tag_id", "posts", rows))
    if change.posts:
        await session.execute(_add_to(session, Counter.__table__, "name", "value",
                                      [{"name": PUBLISHED_POSTS, "value": change.posts}]))


@asynccontextmanager
async def changing(session: AsyncSession, post_ids: list[int]) -> AsyncIterator[None]:
    """Wrap a change of these posts (status, tags, deletion): the counts follow it."""
    before = await _tally(session, post_ids, lock=True)
    yield
    await _apply(session, await _tally(session, post_ids) - before)


async def count_new(session: AsyncSession, *, published: bool, tag_ids: list[int]) -> None:
    """Count a post just created, from what its writer knows (nothing to read)."""
    if published:
        await _apply(session, Count(1, Tally(set(tag_ids))))


# --- recounting --------------------------------------------------------------------------

def _counted_per_tag():
    return (select(post_tags.c.tag_id, func.count().label("n"))
            .join(Post, Post.id == post_tags.c.post_id).where(_counted_condition())
            .group_by(post_tags.c.tag_id))


async def _counted_now(session) -> tuple[int, dict[int, int]]:
    total = await session.scalar(select(func.count(Post.id)).where(_counted_condition())) or 0
    return int(total), {tag_id: int(n) for tag_id, n in (await session.execute(_counted_per_tag())).all()}


async def _kept(session) -> tuple[int, dict[int, int]]:
    total = await session.scalar(select(Counter.value).where(Counter.name == PUBLISHED_POSTS)) or 0
    return int(total), {tag_id: int(n) for tag_id, n in
                        (await session.execute(select(TagCount.tag_id, TagCount.posts))).all() if n}


async def recount(session: AsyncSession | AsyncConnection) -> None:
    """Set every kept number to a count of the rows: one upsert per table, after the
    tags with no counted post are set to zero."""
    total, per_tag = await _counted_now(session)
    await session.execute(update(TagCount).values(posts=0).execution_options(synchronize_session=False))
    await session.execute(update(Counter).where(Counter.name == PUBLISHED_POSTS)
                          .values(value=0).execution_options(synchronize_session=False))
    await _apply(session, Count(total, Tally(per_tag)))


async def drift(session: AsyncSession | AsyncConnection) -> dict[str, tuple[int, int]]:
    """The kept numbers that differ from a count of the rows: {name: (kept, counted)};
    empty when they are right.  For tests and ``quart recount --check``."""
    kept_total, kept_tags = await _kept(session)
    total, per_tag = await _counted_now(session)
    wrong = {PUBLISHED_POSTS: (kept_total, total)} if kept_total != total else {}
    names = dict((await session.execute(select(Tag.id, Tag.name))).all())
    for tag_id in sorted(set(kept_tags) | set(per_tag)):
        if kept_tags.get(tag_id, 0) != per_tag.get(tag_id, 0):
            wrong[f"tag:{names.get(tag_id, tag_id)}"] = (kept_tags.get(tag_id, 0), per_tag.get(tag_id, 0))
    return wrong
