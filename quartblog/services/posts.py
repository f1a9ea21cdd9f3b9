"""Posts: lists (home, tag, author, favorites, feed), single posts, writing, favorites.

Reading is done in a fixed number of statements whatever the page size:

1. ``count``: how many posts match (for page links and ``articlesCount``);
2. ``ids``: the ids of the requested page, from an index only (a deferred join:
   deep pages skip index entries, not whole rows);
3. ``views``: those posts with their author, tag names, favorite and comment
   counts, and the viewer's favorited/following flags, in one statement.

A single post is step 3 alone.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from slugify import slugify
from sqlalchemy import Integer, bindparam, delete, exists, false, func, insert, null, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.dialects.mysql import match as mysql_match
from sqlalchemy.sql import Select

from ..markdown import plain_summary
from ..models import Comment, CommentState, Post, Tag, User, favorites, follows, post_tags
from ..types import utcnow
from .text import check_text
from .errors import Errors, Message, N_, NotFound, PermissionDenied, ValidationFailed
from .upsert import insert_missing
from .tags import get_or_create_tags, normalize_tag, normalize_tags
from .users import following_expr

TITLE_MAX = 200
DESCRIPTION_MAX = 500
BODY_MAX = 100_000
SLUG_MAX = 200
LIMIT_MAX = 100


@dataclass(slots=True)
class AuthorRow:
    """A post's author, as lists and pages show them."""

    id: int
    username: str
    bio: str | None
    image: str | None


@dataclass(slots=True)
class PostRow:
    """A post's columns (plain values, not an ORM object: lists build many of them)."""

    id: int
    slug: str
    title: str
    description: str
    body: str | None  # None in lists loaded with_body=False
    created_at: datetime
    updated_at: datetime
    author_id: int
    view_count: int
    author: AuthorRow


@dataclass(slots=True)
class PostView:
    """A post as a page or a response shows it: everything loaded, nothing lazy."""

    post: PostRow
    tags: list[str]
    favorites_count: int
    favorited: bool
    following_author: bool
    comments_count: int

    @property
    def author(self) -> AuthorRow:
        return self.post.author

    @property
    def summary(self) -> str:
        return self.post.description or plain_summary(self.post.body or "")


@dataclass
class PostPage:
    items: list[PostView]
    total: int
    limit: int
    offset: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1 if self.limit else 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit)) if self.limit else 1

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total

    @property
    def has_prev(self) -> bool:
        return self.offset > 0


@dataclass
class PostFilter:
    """Which posts a list shows: any combination of these."""

    tag: str | None = None
    author: str | None = None          # username
    favorited_by: str | None = None    # username
    feed_of: int | None = None         # user id: posts by the people they follow
    search: str | None = None          # words in title or body


# --- reading -------------------------------------------------------------------------

def _filtered(query: Select, flt: PostFilter, dialect: str = "") -> Select:
    if flt.tag is not None:
        tag_ids = select(Tag.id).where(Tag.name == normalize_tag(flt.tag))
        query = query.where(Post.id.in_(
            select(post_tags.c.post_id).where(post_tags.c.tag_id.in_(tag_ids))))
    if flt.author is not None:
        query = query.where(Post.author_id.in_(select(User.id).where(User.username == flt.author)))
    if flt.favorited_by is not None:
        fan = select(User.id).where(User.username == flt.favorited_by)
        query = query.where(Post.id.in_(
            select(favorites.c.post_id).where(favorites.c.user_id.in_(fan))))
    if flt.feed_of is not None:
        query = query.where(Post.author_id.in_(
            select(follows.c.followed_id).where(follows.c.follower_id == flt.feed_of)))
    if flt.search:
        query = query.where(*_search_conditions(flt.search, dialect))
    return query


# Search: every word must appear in the title or the body.  MySQL/MariaDB use the
# FULLTEXT index (migration 0004) for the words it can index: at least 3 characters
# (InnoDB's innodb_ft_min_token_size), not CJK (InnoDB's parser splits words only at
# spaces and punctuation, so a Chinese word inside a sentence is not a token of its own).
# (InnoDB's default stop words are not indexed either.) Other words, and other databases,
# use LIKE on both columns.
_FULLTEXT_DIALECTS = ("mysql", "mariadb")
_FULLTEXT_MIN = 3
_INNODB_STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this "
    "to was what when where who will with und www".split())
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SEARCH_WORDS_MAX = 8


def _like_condition(word: str):
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return Post.title.ilike(pattern, escape="\\") | Post.body.ilike(pattern, escape="\\")


def _search_conditions(text: str, dialect: str) -> list:
    words = text.split()[:_SEARCH_WORDS_MAX]
    if dialect not in _FULLTEXT_DIALECTS:
        return [_like_condition(word) for word in words]
    conditions, required = [], []
    for word in words:
        tokens = re.findall(r"\w+", word)  # what InnoDB indexes; the rest is punctuation
        if tokens and all(len(t) >= _FULLTEXT_MIN and not _CJK.search(t)
                          and t.lower() not in _INNODB_STOPWORDS for t in tokens):
            required.append('+"' + " ".join(tokens) + '"' if len(tokens) > 1 else f"+{tokens[0]}*")
        else:
            conditions.append(_like_condition(word))
    if required:
        conditions.append(mysql_match(Post.title, Post.body, against=" ".join(required)).in_boolean_mode())
    return conditions


_POST_COLUMNS = (Post.id, Post.slug, Post.title, Post.description, Post.created_at,
                 Post.updated_at, Post.author_id, Post.view_count)
_AUTHOR_COLUMNS = (User.username, User.bio, User.image)


@lru_cache(maxsize=None)
def _views_statement(*, by_slug: bool, with_body: bool, has_viewer: bool) -> Select:
    """The one statement that loads PostViews: the post's and its author's columns,
    tag names (aggregated), favorite and comment counts (correlated subqueries), and
    the viewer's favorited/following flags.  Built once per shape and reused, so
    SQLAlchemy's compiled-statement cache key is computed once, not per request.
    Parameters: ``ids`` (expanding) or ``slug``, and ``viewer_id``."""
    favorites_count = (
        select(func.count()).select_from(favorites)
        .where(favorites.c.post_id == Post.id).correlate(Post).scalar_subquery()
    )
    comments_count = (
        select(func.count(Comment.id))
        .where(Comment.post_id == Post.id, Comment.state == CommentState.PUBLISHED)  # what everyone sees
        .correlate(Post).scalar_subquery()
    )
    tag_names = (
        select(func.aggregate_strings(Tag.name, ","))
        .select_from(post_tags.join(Tag, Tag.id == post_tags.c.tag_id))
        .where(post_tags.c.post_id == Post.id).correlate(Post).scalar_subquery()
    )
    viewer_id = bindparam("viewer_id", type_=Integer)
    if has_viewer:
        favorited = exists().where(favorites.c.post_id == Post.id, favorites.c.user_id == viewer_id)
    else:
        favorited = false()
    following = following_expr(viewer_id if has_viewer else None, Post.author_id)
    body = Post.body if with_body else null()
    statement = (
        select(*_POST_COLUMNS, body.label("body"), *_AUTHOR_COLUMNS,
               tag_names.label("tag_names"), favorites_count.label("favorites_count"),
               favorited.label("favorited"), following.label("following"),
               comments_count.label("comments_count"))
        .join(User, User.id == Post.author_id)
    )
    if by_slug:
        return statement.where(Post.slug == bindparam("slug"))
    return statement.where(Post.id.in_(bindparam("ids", expanding=True)))


def _to_view(row) -> PostView:
    author = AuthorRow(id=row.author_id, username=row.username, bio=row.bio, image=row.image)
    post = PostRow(id=row.id, slug=row.slug, title=row.title, description=row.description,
                   body=row.body, created_at=row.created_at, updated_at=row.updated_at,
                   author_id=row.author_id, view_count=row.view_count, author=author)
    return PostView(
        post=post,
        tags=sorted(row.tag_names.split(",")) if row.tag_names else [],
        favorites_count=int(row.favorites_count or 0),
        favorited=bool(row.favorited),
        following_author=bool(row.following),
        comments_count=int(row.comments_count or 0),
    )


async def list_posts(session: AsyncSession, flt: PostFilter | None = None, *,
                     limit: int = 20, offset: int = 0, viewer_id: int | None = None,
                     with_body: bool = True) -> PostPage:
    """A page of posts, newest first, in three statements whatever ``limit`` is."""
    flt = flt or PostFilter()
    if limit < 1 or limit > LIMIT_MAX:
        raise ValidationFailed.one("limit", f"must be between 1 and {LIMIT_MAX}")
    if offset < 0:
        raise ValidationFailed.one("offset", "must not be negative")
    dialect = session.get_bind().dialect.name
    total = await session.scalar(_filtered(select(func.count(Post.id)), flt, dialect)) or 0
    if offset >= total:
        return PostPage(items=[], total=total, limit=limit, offset=offset)
    ids = list(await session.scalars(
        _filtered(select(Post.id), flt, dialect)
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(limit).offset(offset)
    ))
    views = await load_views(session, ids, viewer_id=viewer_id, with_body=with_body)
    return PostPage(items=views, total=total, limit=limit, offset=offset)


async def load_views(session: AsyncSession, ids: list[int], *, viewer_id: int | None = None,
                     with_body: bool = True) -> list[PostView]:
    """PostViews for these ids, in the order given, in one statement."""
    if not ids:
        return []
    statement = _views_statement(by_slug=False, with_body=with_body, has_viewer=viewer_id is not None)
    rows = await session.execute(statement, {"ids": ids, "viewer_id": viewer_id})
    by_id = {view.post.id: view for view in map(_to_view, rows)}
    return [by_id[i] for i in ids if i in by_id]


async def get_post_view(session: AsyncSession, slug: str, *, viewer_id: int | None = None) -> PostView:
    statement = _views_statement(by_slug=True, with_body=True, has_viewer=viewer_id is not None)
    row = (await session.execute(statement, {"slug": slug, "viewer_id": viewer_id})).first()
    if row is None:
        raise NotFound("article")
    return _to_view(row)


async def record_view(session: AsyncSession, slug: str) -> None:
    """Count a visit, in one statement (updated_at is left alone: a visit is not an
    edit; writes set updated_at themselves)."""
    await session.execute(
        update(Post).where(Post.slug == slug)
        .values(view_count=Post.view_count + 1)
        .execution_options(synchronize_session=False, changes_content=False)
    )


# --- writing ---------------------------------------------------------------------------

def can_edit(user: User | None, post: Post) -> bool:
    return user is not None and (user.is_admin or user.id == post.author_id)


def _check_fields(errors: Errors, *, title: str | None, description: str | None,
                  body: str | None, creating: bool) -> None:
    if title is not None or creating:
        if not title or not title.strip():
            errors.add("title", N_("can't be blank"))
        elif len(title.strip()) > TITLE_MAX:
            errors.add("title", Message("is too long (maximum is %(maximum)d characters)", maximum=TITLE_MAX))
        else:
            check_text(errors, "title", title.strip())
    if description is not None:
        if len(description.strip()) > DESCRIPTION_MAX:
            errors.add("description", Message("is too long (maximum is %(maximum)d characters)", maximum=DESCRIPTION_MAX))
        else:
            check_text(errors, "description", description.strip())
    if body is not None or creating:
        if not body or not body.strip():
            errors.add("body", N_("can't be blank"))
        elif len(body) > BODY_MAX:
            errors.add("body", Message("is too long (maximum is %(maximum)d characters)", maximum=BODY_MAX))
        else:
            check_text(errors, "body", body, multiline=True)


def _description(description: str | None, body: str) -> str:
    description = (description or "").strip()
    return description or plain_summary(body, 200)


def base_slug(title: str) -> str:
    """A URL slug for a title; Chinese and other scripts are transliterated."""
    return slugify(title, max_length=SLUG_MAX, word_boundary=True) or "post"


# Slugs that would be shadowed by another route (GET /api/articles/feed is the feed).
RESERVED_SLUGS = frozenset({"feed"})


SLUG_TRIES = 10


async def _free_slug(session: AsyncSession, base: str, lost: set[str]) -> str:
    """The first of ``base``, ``base-2``, ``base-3`` ... that no post has, skipping the
    ones this request already lost to a concurrent writer; after ``SLUG_TRIES`` losses
    (a crowd writing the same title), a random suffix ends the race."""
    if len(lost) >= SLUG_TRIES:
        return f"{base}-{secrets.token_hex(3)}"
    taken = set(await session.scalars(
        select(Post.slug).where((Post.slug == base) | Post.slug.like(base + "-%"))))
    taken |= RESERVED_SLUGS | lost
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


async def _set_tags(session: AsyncSession, post_id: int, names: list[str]) -> None:
    await session.execute(delete(post_tags).where(post_tags.c.post_id == post_id))
    tag_ids = await get_or_create_tags(session, names)
    if tag_ids:
        await session.execute(insert(post_tags), [{"post_id": post_id, "tag_id": i} for i in tag_ids])


async def create_post(session: AsyncSession, author: User, *, title: str | None,
                      description: str | None, body: str | None,
                      tags: str | list[str] | None = None) -> PostView:
    if not author.can_write:
        raise PermissionDenied(N_("readers cannot write posts"))
    errors = Errors()
    _check_fields(errors, title=title, description=description, body=body, creating=True)
    names = normalize_tags(tags, errors)
    errors.raise_if_any()
    assert title is not None and body is not None
    now = utcnow()
    base, lost = base_slug(title.strip()), set()
    while True:
        post = Post(
            slug=await _free_slug(session, base, lost), title=title.strip(),
            description=_description(description, body), body=body, author_id=author.id,
            created_at=now, updated_at=now,
        )
        try:
            # A duplicate key fails only the statement (MySQL, SQLite) or the
            # savepoint (PostgreSQL); a deadlock fails the whole transaction and is
            # retried as a whole by the unit of work instead.
            async with session.begin_nested():
                session.add(post)
            break
        except IntegrityError as exc:
            if "slug" not in str(exc.orig).lower():
                raise
            lost.add(post.slug)  # taken meanwhile by a concurrent writer: pick again
    await _set_tags(session, post.id, names)
    return await get_post_view(session, post.slug, viewer_id=author.id)


async def get_post_for_edit(session: AsyncSession, actor: User, slug: str) -> Post:
    post = await session.scalar(select(Post).where(Post.slug == slug))
    if post is None:
        raise NotFound("article")
    if not can_edit(actor, post):
        raise PermissionDenied(N_("only the author or an admin can change this post"))
    return post


async def update_post(session: AsyncSession, actor: User, slug: str, *, title: str | None = None,
                      description: str | None = None, body: str | None = None,
                      tags: str | list[str] | None = None) -> PostView:
    """Change the given fields; None leaves a field alone. The slug never changes,
    so links to the post keep working after its title is edited."""
    post = await get_post_for_edit(session, actor, slug)
    errors = Errors()
    _check_fields(errors, title=title, description=description, body=body, creating=False)
    names = normalize_tags(tags, errors) if tags is not None else None
    errors.raise_if_any()
    if title is not None:
        post.title = title.strip()
    if body is not None:
        post.body = body
    if description is not None:
        post.description = _description(description, post.body)
    post.updated_at = utcnow()
    await session.flush()
    if names is not None:
        await _set_tags(session, post.id, names)
    return await get_post_view(session, post.slug, viewer_id=actor.id)


async def delete_post(session: AsyncSession, actor: User, slug: str) -> None:
    post = await get_post_for_edit(session, actor, slug)
    await session.execute(delete(Post).where(Post.id == post.id).execution_options(synchronize_session=False))
    session.expunge(post)


# --- favorites --------------------------------------------------------------------------

async def _post_id(session: AsyncSession, slug: str) -> int:
    post_id = await session.scalar(select(Post.id).where(Post.slug == slug))
    if post_id is None:
        raise NotFound("article")
    return post_id


async def favorite(session: AsyncSession, user: User, slug: str) -> PostView:
    post_id = await _post_id(session, slug)
    # A double click: the second insert finds the first one's row and does nothing.
    await insert_missing(session, favorites, [{"user_id": user.id, "post_id": post_id,
                                               "created_at": utcnow()}], ["user_id", "post_id"])
    return await get_post_view(session, slug, viewer_id=user.id)


async def unfavorite(session: AsyncSession, user: User, slug: str) -> PostView:
    post_id = await _post_id(session, slug)
    await session.execute(delete(favorites).where(
        favorites.c.user_id == user.id, favorites.c.post_id == post_id))
    return await get_post_view(session, slug, viewer_id=user.id)

