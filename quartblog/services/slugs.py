"""A new post's slug, chosen without depending on winning a race (issue 22).

The slug is made from the title (python-slugify: Chinese is transliterated); when a
post has it already, the next free ``base-2``, ``base-3`` ... follows.  A crowd writing
one title at the same moment must all get a post, so the choice is not "look, then
insert and hope":

1. The post is inserted with ``base`` by an insert that never fails on the slug and,
   when ``base`` is taken, **locks the row that has it** (MySQL/MariaDB
   ``ON DUPLICATE KEY UPDATE slug = slug``, which takes an exclusive lock instead of a
   duplicate-key error's shared one; PostgreSQL ``ON CONFLICT (slug) DO UPDATE ...
   WHERE false``, which locks the row and changes nothing; SQLite has one writer).
2. Holding that lock, one statement reads the taken ``base`` and ``base-*`` slugs and
   the next free number is inserted.  Every writer of the title waits at step 1 for the
   one before it to commit, so that number is free; a number taken meanwhile by a post
   whose own title makes it (``Title 2`` gives ``title-2``) is answered at once with a
   random suffix, never by looping.

No IntegrityError to catch and no SAVEPOINT: a duplicate key's shared lock followed by
another insert was what made InnoDB deadlock under a crowd (50 writers, issue 22).
Locks are taken on the title's own slug first and inserts land after it in the index,
so two titles' writers never wait for each other in a circle.
"""

from __future__ import annotations

import secrets
from typing import Any

from slugify import slugify
from sqlalchemy import false, insert, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Post
from ..types import MYSQL_DIALECTS

SLUG_MAX = 200
# Slugs that would be shadowed by another route (GET /api/articles/feed is the feed).
RESERVED_SLUGS = frozenset({"feed"})
RANDOM_SUFFIX_BYTES = 4


def base_slug(title: str) -> str:
    """A URL slug for a title; Chinese and other scripts are transliterated."""
    return slugify(title, max_length=SLUG_MAX, word_boundary=True) or "post"


async def _insert_unless_taken(session: AsyncSession, values: dict[str, Any], *, lock: bool) -> int | None:
    """Insert the post; its id, or None when its slug is taken (and, with ``lock``, the
    row that has it is now locked by this transaction)."""
    table = Post.__table__
    dialect = session.get_bind().dialect.name
    if dialect in MYSQL_DIALECTS:
        statement = mysql.insert(table).values(values)
        statement = statement.on_duplicate_key_update(slug=statement.inserted.slug)
        result = await session.execute(statement)
        return result.lastrowid or None  # 0: the key was there (the drivers agree)
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(values)
        if lock:  # locks the conflicting row even though the WHERE updates nothing
            statement = statement.on_conflict_do_update(
                index_elements=["slug"], set_={"slug": statement.excluded.slug}, where=false())
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["slug"])
    else:
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=["slug"])
    return await session.scalar(statement.returning(table.c.id))


async def _taken(session: AsyncSession, base: str) -> set[str]:
    """The slugs ``base`` and ``base-...`` that posts have (one index range)."""
    return set(await session.scalars(
        select(Post.slug).where((Post.slug == base) | Post.slug.startswith(base + "-", autoescape=True))))


def next_free(base: str, taken: set[str]) -> str:
    """``base``, else the first of ``base-2``, ``base-3`` ... not in ``taken``."""
    taken = taken | RESERVED_SLUGS
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


async def insert_post(session: AsyncSession, title: str, values: dict[str, Any]) -> tuple[int, str]:
    """Insert a post (``values``: its columns but the slug) under a slug made from
    ``title``; its id and slug.  See the module for how a crowd is served."""
    base = base_slug(title)
    first = next_free(base, set())  # "feed" is a route: its posts start at feed-2
    post_id = await _insert_unless_taken(session, {**values, "slug": first}, lock=True)
    if post_id is not None:
        return post_id, first
    slug = next_free(base, await _taken(session, base))
    post_id = await _insert_unless_taken(session, {**values, "slug": slug}, lock=False)
    if post_id is None:
        # Taken by a post of another title, which did not wait for our lock: no loop,
        # a suffix nobody else picks (a collision is an IntegrityError: the unit of
        # work runs the request again).
        slug = f"{base}-{secrets.token_hex(RANDOM_SUFFIX_BYTES)}"
        result = await session.execute(insert(Post.__table__).values({**values, "slug": slug}))
        post_id = result.inserted_primary_key[0]
    return post_id, slug
