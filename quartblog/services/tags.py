"""Tags: parsing what people type, creating new ones, lists and counts."""

from __future__ import annotations

import re

from sqlalchemy import literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Tag, post_tags
from .errors import Errors, Message, N_

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
                errors.add("tagList", N_("must be a list of strings"))
            continue
        name = re.sub(r"\s+", " ", item.replace(",", " ")).strip().lower()
        if not name:
            continue
        if len(name) > TAG_MAX:
            if errors:
                errors.add("tagList", Message("a tag is too long (maximum is %(maximum)d characters)", maximum=TAG_MAX))
            continue
        if "/" in name:  # a tag is a path segment: /tags/<name>
            if errors:
                errors.add("tagList", N_("a tag cannot contain '/'"))
            continue
        names.add(name)
    if len(names) > TAGS_PER_POST_MAX and errors:
        errors.add("tagList", Message("too many tags (maximum is %(maximum)d)", maximum=TAGS_PER_POST_MAX))
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
    # A correlated probe with LIMIT 1: one index lookup per tag.  (MariaDB turns a
    # plain EXISTS into a semi-join that reads the whole post_tags table.)
    used = select(literal(1)).where(post_tags.c.tag_id == Tag.id).limit(1).scalar_subquery()
    return list(await session.scalars(select(Tag.name).where(used.is_not(None)).order_by(Tag.name)))
