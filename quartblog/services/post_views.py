"""Reading posts: lists (home, tag, author, favorites, feed, search) and single posts,
in a fixed number of statements whatever the page size:

1. ``page``: the ids of the requested page, from an index only (a deferred join:
   deep pages skip index entries, not whole rows), with how many posts match (for
   page links and ``articlesCount``) beside them: kept on write for all public
   posts and per tag (services/counts.py), counted for other filters;
2. ``views``: those posts with their author, tag names, favorite and comment
   counts, and the viewer's favorited/following flags, in one statement.

A single post is step 2 alone.  Who may see what: ``post_states``.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Integer, String, bindparam, cast, exists, false, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.dialects.mysql import match as mysql_match
from sqlalchemy.sql import Select

from ..types import MYSQL_DIALECTS
from ..db import read_rows, search_limit
from ..text.markdown import plain_summary
from ..models import Comment, CommentState, Post, PostStatus, Tag, User, favorites, follows, post_tags
from ..types import utcnow
from .paging import OFFSET_MAX, Page
from .errors import NotFound, ValidationFailed
from . import counts
from ..text import search
from .tags import normalize_tag
from .users import following_expr

from .post_states import PUBLISHED, HasState, may_see, public_condition

LIMIT_MAX = 100


@dataclass(slots=True)
class AuthorRow:
    """A post's author, as lists and pages show them."""

    id: int
    username: str
    bio: str | None
    image: str | None


@dataclass(slots=True)
class PostRow(HasState):
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
    status: str = PostStatus.PUBLISHED.value
    published_at: datetime | None = None

    @property
    def is_public(self) -> bool:
        return self.state == PUBLISHED


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
class PostPage(Page):
    items: list[PostView]


@dataclass
class PostFilter:
    """Which posts a list shows: any combination of these.  Lists show public posts
    only, newest published first; ``unpublished_of`` lists that author's drafts and
    scheduled posts instead (most recently changed first)."""

    tag: str | None = None
    author: str | None = None          # username
    favorited_by: str | None = None    # username
    feed_of: int | None = None         # user id: posts by the people they follow
    search: str | None = None          # words in title or body
    unpublished_of: int | None = None  # user id: their drafts and scheduled posts


# --- reading -------------------------------------------------------------------------

def _filter_params(flt: PostFilter, now: datetime) -> dict:
    """The bind parameters of ``_filtered``'s conditions."""
    return {"tag": normalize_tag(flt.tag) if flt.tag is not None else None,
            "author": flt.author, "fan": flt.favorited_by, "feed_of": flt.feed_of,
            "unpublished_of": flt.unpublished_of, "now": now}


def _filtered(query: Select, flt: PostFilter, dialect: str = "") -> Select:
    """``query`` narrowed to the filter's posts.  Values are bind parameters
    (``_filter_params``), so the statement depends only on which filters are set."""
    public = public_condition(bindparam("now"))
    if flt.unpublished_of is not None:
        query = query.where(Post.author_id == bindparam("unpublished_of", type_=Integer), ~public)
    else:
        query = query.where(public)
    if flt.tag is not None:
        tag_ids = select(Tag.id).where(Tag.name == bindparam("tag"))
        query = query.where(Post.id.in_(
            select(post_tags.c.post_id).where(post_tags.c.tag_id.in_(tag_ids))))
    if flt.author is not None:
        query = query.where(Post.author_id.in_(select(User.id).where(User.username == bindparam("author"))))
    if flt.favorited_by is not None:
        fan = select(User.id).where(User.username == bindparam("fan"))
        query = query.where(Post.id.in_(
            select(favorites.c.post_id).where(favorites.c.user_id.in_(fan))))
    if flt.feed_of is not None:
        query = query.where(Post.author_id.in_(
            select(follows.c.followed_id).where(follows.c.follower_id == bindparam("feed_of", type_=Integer))))
    if flt.search:
        query = query.where(*_search_conditions(flt.search, dialect))
    return query


def _list_statements(flt: PostFilter, dialect: str) -> tuple[Select, Select]:
    """(count, ids of a page) for this filter; built once per combination of filters
    (searches, whose words shape the statement, are built each time)."""
    if flt.search:
        return _build_list_statements(flt, dialect)
    shape = PostFilter(tag="" if flt.tag is not None else None,
                       author="" if flt.author is not None else None,
                       favorited_by="" if flt.favorited_by is not None else None,
                       feed_of=0 if flt.feed_of is not None else None,
                       unpublished_of=0 if flt.unpublished_of is not None else None)
    return _cached_list_statements(shape.tag, shape.author, shape.favorited_by, shape.feed_of,
                                   shape.unpublished_of, dialect)


@lru_cache(maxsize=64)
def _cached_list_statements(tag, author, favorited_by, feed_of, unpublished_of,
                            dialect: str) -> tuple[Select, Select]:
    return _build_list_statements(PostFilter(tag=tag, author=author, favorited_by=favorited_by,
                                             feed_of=feed_of, unpublished_of=unpublished_of), dialect)


def _total(flt: PostFilter, dialect: str):
    """How many posts the filter's list has: the kept counts (services/counts.py) for
    all public posts and for a tag's, a ``COUNT`` of the rows for other filters."""
    if (flt.author is None and flt.favorited_by is None and flt.feed_of is None
            and not flt.search and flt.unpublished_of is None):
        if flt.tag is None:
            return counts.public_total(bindparam("now"))
        return counts.public_tag_total(bindparam("tag"), bindparam("now"))
    return _filtered(select(func.count(Post.id)), flt, dialect).correlate(None).scalar_subquery()


def _build_list_statements(flt: PostFilter, dialect: str) -> tuple[Select, Select]:
    """(count, page): the page's ids with the list's total beside each (an uncorrelated
    subquery: computed once), and the total alone for a page past the end."""
    total = _total(flt, dialect)
    # Public lists newest published first; a writer's drafts most recently changed first.
    order = ((Post.updated_at.desc(), Post.id.desc()) if flt.unpublished_of is not None
             else (Post.published_at.desc(), Post.id.desc()))
    page = (_filtered(select(Post.id, total.label("total")), flt, dialect).order_by(*order)
            .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer)))
    return select(total.label("total")), page


# Search: every term of the query must be in the title or the body, found in
# posts.search_text by the same LIKE on every database; MySQL/MariaDB's FULLTEXT index
# narrows the rows first (text/search.py, docs/architecture.md "Search").
_FULLTEXT_DIALECTS = MYSQL_DIALECTS


def _search_conditions(text: str, dialect: str) -> list:
    terms = search.query_terms(text)
    if not terms:
        return [false()]  # nothing searchable (punctuation only): nothing found
    conditions = [Post.search_text.contains(t.like, autoescape=True) for t in terms]
    required = [t.match for t in terms if t.match]
    if dialect in _FULLTEXT_DIALECTS and required:
        conditions.append(mysql_match(Post.search_text, against=" ".join(required)).in_boolean_mode())
    return conditions


_POST_COLUMNS = (Post.id, Post.slug, Post.title, Post.description, Post.created_at,
                 Post.updated_at, Post.author_id, Post.view_count, Post.status, Post.published_at)
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
    # "position:name" pairs, sorted in Python (_tag_list): an ordered aggregate is
    # written differently on every database.  Names hold no commas (normalize_tag).
    tag_names = (
        select(func.aggregate_strings(cast(post_tags.c.position, String) + ":" + Tag.name, ","))
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


def _tag_list(aggregated: str | None) -> list[str]:
    """Tag names in the order they were written, from "position:name,..." pairs."""
    if not aggregated:
        return []
    pairs = (item.partition(":") for item in aggregated.split(","))
    return [name for _, name in sorted((int(pos), name) for pos, _, name in pairs)]


def _to_view(row) -> PostView:
    author = AuthorRow(id=row.author_id, username=row.username, bio=row.bio, image=row.image)
    post = PostRow(id=row.id, slug=row.slug, title=row.title, description=row.description,
                   body=row.body, created_at=row.created_at, updated_at=row.updated_at,
                   author_id=row.author_id, view_count=row.view_count, author=author,
                   status=PostStatus(row.status).value, published_at=row.published_at)
    return PostView(
        post=post,
        tags=_tag_list(row.tag_names),
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
    if offset < 0 or offset > OFFSET_MAX:
        raise ValidationFailed.one("offset", f"must be between 0 and {OFFSET_MAX}")
    count, page = _list_statements(flt, session.get_bind().dialect.name)
    params = _filter_params(flt, utcnow())  # one instant for both statements
    # A search may read most posts: a slot of its own and a shorter time (db/limits.py).
    async with search_limit(session) if flt.search else nullcontext():
        rows = (await read_rows(session, page, {**params, "limit": limit, "offset": offset})).all()
        total = None if rows else int(await session.scalar(count, params) or 0)
    if total is not None:  # no posts, or a page past the last one
        return PostPage(items=[], total=total, limit=limit, offset=offset)
    views = await load_views(session, [row.id for row in rows], viewer_id=viewer_id, with_body=with_body)
    return PostPage(items=views, total=int(rows[0].total), limit=limit, offset=offset)


async def load_views(session: AsyncSession, ids: list[int], *, viewer_id: int | None = None,
                     with_body: bool = True) -> list[PostView]:
    """PostViews for these ids, in the order given, in one statement."""
    if not ids:
        return []
    statement = _views_statement(by_slug=False, with_body=with_body, has_viewer=viewer_id is not None)
    rows = await read_rows(session, statement, {"ids": ids, "viewer_id": viewer_id})
    by_id = {view.post.id: view for view in map(_to_view, rows)}
    return [by_id[i] for i in ids if i in by_id]


async def get_post_view(session: AsyncSession, slug: str, *, viewer_id: int | None = None,
                        admin: bool = False) -> PostView:
    """The post with this slug, if this viewer may see it (``may_see``), else NotFound:
    a draft or a scheduled post looks like no post at all to anyone else."""
    statement = _views_statement(by_slug=True, with_body=True, has_viewer=viewer_id is not None)
    row = (await read_rows(session, statement, {"slug": slug, "viewer_id": viewer_id})).first()
    if row is None:
        raise NotFound("article")
    view = _to_view(row)
    if not may_see(view.post, viewer_id, admin):
        raise NotFound("article")
    return view


async def visible_post(session: AsyncSession, slug: str, viewer: User | None):
    """The post with this slug (``id``, ``author_id``, ``status``, ``published_at``) if
    ``viewer`` may see it, else NotFound."""
    row = (await session.execute(select(Post.id, Post.author_id, Post.status, Post.published_at)
                                 .where(Post.slug == slug))).first()
    if row is None or not may_see(row, viewer.id if viewer else None, bool(viewer and viewer.is_admin)):
        raise NotFound("article")
    return row


async def visible_post_id(session: AsyncSession, slug: str, viewer: User | None) -> int:
    """The id of the post with this slug if ``viewer`` may see it, else NotFound."""
    return (await visible_post(session, slug, viewer)).id


async def record_view(session: AsyncSession, slug: str) -> None:
    """Count a visit, in one statement (updated_at is left alone: a visit is not an
    edit; writes set updated_at themselves)."""
    await session.execute(
        update(Post).where(Post.slug == slug)
        .values(view_count=Post.view_count + 1)
        .execution_options(synchronize_session=False, changes_content=False)
    )


# --- writing ---------------------------------------------------------------------------
