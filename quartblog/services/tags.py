"""Tags: parsing what people type, creating new ones, lists and counts."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Tag
from ..types import utcnow
from .errors import Errors, Message, N_
from .text import has_control_characters
from .counts import public_tag_uses
from .upsert import insert_missing

TAG_MAX = 64
TAGS_PER_POST_MAX = 20
_SPACES = re.compile(r"\s+")


def normalize_tag(text: str) -> str:
    """The one rule for tag names, the same on every database (docs/architecture.md):
    Unicode NFKC (full-width ``ｆｏｏ`` is ``foo``, ligatures split), lower case,
    commas and runs of white space as one space, trimmed.  Names that differ after
    this are different tags, compared code point by code point: ``cafe`` and
    ``café``, ``strasse`` and ``straße`` are two tags everywhere (the column has a
    binary collation on MySQL/MariaDB, as PostgreSQL and SQLite compare)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACES.sub(" ", text.replace(",", " ")).strip()


def normalize_tags(raw: str | list[str] | None, errors: Errors | None = None) -> list[str]:
    """Tag names from "a, b" or ["a", "b"]: normalized (``normalize_tag``), unique (the
    first occurrence wins), in the order they were written."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else raw
    names: dict[str, None] = {}  # a set that keeps the order
    for item in items:
        if not isinstance(item, str):
            if errors:
                errors.add("tagList", N_("must be a list of strings"))
            continue
        name = normalize_tag(item)
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
        if has_control_characters(name):
            if errors:
                errors.add("tagList", N_("a tag cannot contain control characters"))
            continue
        names.setdefault(name)
    if len(names) > TAGS_PER_POST_MAX and errors:
        errors.add("tagList", Message("too many tags (maximum is %(maximum)d)", maximum=TAGS_PER_POST_MAX))
    return list(names)


async def get_or_create_tags(session: AsyncSession, names: list[str]) -> list[int]:
    """The ids of the tags with these (normalized) names, creating the missing ones.

    Two statements whatever happens concurrently: the insert skips names another
    request created first (it waits for that request's commit), and the select,
    a new snapshot at READ COMMITTED, sees them."""
    if not names:
        return []
    await insert_missing(session, Tag.__table__, [{"name": name} for name in names], ["name"])
    ids = dict((await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))).all())
    return [ids[name] for name in names]


async def all_tag_names(session: AsyncSession) -> list[str]:
    """Every tag that is on at least one public post (no drafts, nothing scheduled
    yet), the most used first (ties by name)."""
    tags, uses = public_tag_uses(utcnow())  # kept on write (services/counts.py)
    return list(await session.scalars(
        select(Tag.name).select_from(tags).where(uses > 0).order_by(uses.desc(), Tag.name)))
