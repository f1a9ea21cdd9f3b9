"""Tags: parsing what people type, creating new ones, lists and counts."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Tag, post_tags
from .errors import Errors

TAG_MAX = 64
TAGS_PER_POST_MAX = 20


def normalize_tags(raw: str | list[str] | None, errors: Errors | None = None) -> list[str]:
    """Tag names from "a, b" or ["a", "b"]: trimmed, lower-case, unique, sorted."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else raw
    names: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            if errors:
                errors.add("tagList", "must be a list of strings")
            continue
        name = re.sub(r"\s+", " ", item.replace(",", " ")).strip().lower()
        if not name:
            continue
        if len(name) > TAG_MAX:
            if errors:
                errors.add("tagList", f"a tag is too long (maximum is {TAG_MAX} characters)")
            continue
        names.add(name)
    if len(names) > TAGS_PER_POST_MAX and errors:
        errors.add("tagList", f"too many tags (maximum is {TAGS_PER_POST_MAX})")
    return sorted(names)


async def get_or_create_tags(session: AsyncSession, names: list[str]) -> list[Tag]:
    """The Tag rows for these names, creating the missing ones."""
    if not names:
        return []
    existing = {t.name: t for t in await session.scalars(select(Tag).where(Tag.name.in_(names)))}
    for name in names:
        if name in existing:
            continue
        try:
            async with session.begin_nested():
                tag = Tag(name=name)
                session.add(tag)
        except IntegrityError:  # created meanwhile by another request
            tag = await session.scalar(select(Tag).where(Tag.name == name))
        existing[name] = tag
    return [existing[name] for name in names]


async def all_tag_names(session: AsyncSession) -> list[str]:
    """Every tag that is on at least one post, sorted by name."""
    used = select(post_tags.c.tag_id).distinct()
    return list(await session.scalars(select(Tag.name).where(Tag.id.in_(used)).order_by(Tag.name)))


async def popular_tags(session: AsyncSession, limit: int = 5) -> list[tuple[str, int]]:
    """The most used tags with their post counts, most used first."""
    count = func.count(post_tags.c.post_id).label("n")
    rows = await session.execute(
        select(Tag.name, count)
        .join(post_tags, post_tags.c.tag_id == Tag.id)
        .group_by(Tag.id, Tag.name)
        .order_by(count.desc(), Tag.name)
        .limit(limit)
    )
    return [(name, int(n)) for name, n in rows]
