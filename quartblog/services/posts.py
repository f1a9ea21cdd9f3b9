"""Writing posts: checks, slugs, tags, create, edit, publish in bulk, delete, favorites.
The reading side is ``post_views`` and the visibility rule ``post_states``; their names
are importable from here too, so ``posts.list_posts`` reads as the services' one entry."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timezone

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..text.markdown import plain_summary
from ..models import Post, PostStatus, User, favorites, post_tags
from ..types import utcnow
from .text import check_text
from .errors import Errors, Message, N_, NotFound, PermissionDenied
from .upsert import insert_missing
from . import counts, new_posts, verification
from ..text import search
from .tags import get_or_create_tags, normalize_tags
from .slugs import RESERVED_SLUGS, SLUG_MAX, base_slug, insert_post  # noqa: F401

from .post_states import DRAFT, PUBLISHED, SCHEDULED, STATES, may_see, post_state, public_condition  # noqa: F401
from .post_views import (  # noqa: F401
    LIMIT_MAX, AuthorRow, PostFilter, PostPage, PostRow, PostView, get_post_view, list_posts, load_views,
    record_view, visible_post, visible_post_id,
)

TITLE_MAX = 200
DESCRIPTION_MAX = 500
BODY_MAX = 100_000


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


# Publish times the databases all store (MySQL's DATETIME starts at year 1000).
PUBLISH_AT_MIN = datetime(1970, 1, 1, tzinfo=timezone.utc)
PUBLISH_AT_MAX = datetime(9999, 1, 1, tzinfo=timezone.utc)


def _publication(errors: Errors, status: str | None, publish_at: datetime | None, *,
                 current: Post | None = None) -> tuple[PostStatus, datetime | None] | None:
    """The (status, published_at) to store for what the writer asked, or None to leave
    them alone (an update that names neither).  ``status``: ``draft``, ``published``
    (at ``publish_at``, or now; a post already published keeps its time) or
    ``scheduled`` (``publish_at`` required, in the future); none means published for a
    new post and the same state for an edited one."""
    now = utcnow()
    if publish_at is not None:
        if publish_at.tzinfo is None:
            publish_at = publish_at.replace(tzinfo=timezone.utc)
        if not PUBLISH_AT_MIN <= publish_at < PUBLISH_AT_MAX:
            errors.add("publishAt", N_("is not a possible date"))
            return None
    if status is not None and status not in STATES:
        errors.add("status", N_("must be draft, published or scheduled"))
        return None
    if status is None:
        if current is None:
            status = PUBLISHED
        elif publish_at is None:
            return None
        else:
            status = post_state(current.status, current.published_at, now)
            if status == SCHEDULED:
                status = PUBLISHED  # a new time, past or future
    if status == DRAFT:
        if publish_at is not None:
            errors.add("publishAt", N_("can't be set on a draft"))
            return None
        return PostStatus.DRAFT, None
    if status == SCHEDULED:
        if publish_at is None:
            errors.add("publishAt", N_("is needed to schedule a post"))
            return None
        if publish_at <= now:
            errors.add("publishAt", N_("must be in the future to schedule a post"))
            return None
        return PostStatus.PUBLISHED, publish_at
    if publish_at is not None:
        return PostStatus.PUBLISHED, publish_at
    if current is not None and post_state(current.status, current.published_at, now) == PUBLISHED:
        return PostStatus.PUBLISHED, current.published_at  # already out: keeps its date
    return PostStatus.PUBLISHED, now


def _description(description: str | None, body: str) -> str:
    description = (description or "").strip()
    return description or plain_summary(body, 200)


async def _set_tags(session: AsyncSession, post_id: int, names: list[str]) -> list[int]:
    await session.execute(delete(post_tags).where(post_tags.c.post_id == post_id))
    tag_ids = await get_or_create_tags(session, names)
    if tag_ids:
        await session.execute(insert(post_tags), [{"post_id": post_id, "tag_id": tag_id, "position": n}
                                                  for n, tag_id in enumerate(tag_ids)])
    return tag_ids


async def create_post(session: AsyncSession, author: User, *, title: str | None,
                      description: str | None, body: str | None,
                      tags: str | list[str] | None = None, status: str | None = None,
                      publish_at: datetime | None = None) -> PostView:
    """A new post: published now unless ``status``/``publish_at`` say otherwise
    (``_publication``)."""
    if not author.can_write:
        raise PermissionDenied(N_("readers cannot write posts"))
    await verification.require_verified(session, author)  # the blog may want a verified address first
    errors = Errors()
    _check_fields(errors, title=title, description=description, body=body, creating=True)
    names = normalize_tags(tags, errors)
    publication = _publication(errors, status, publish_at)
    errors.raise_if_any()
    assert title is not None and body is not None and publication is not None
    now = utcnow()
    post_id, slug = await insert_post(session, title.strip(), {
        "title": title.strip(), "description": _description(description, body), "body": body,
        "author_id": author.id, "search_text": search.search_text(title.strip(), body),
        "created_at": now, "updated_at": now, "status": publication[0], "published_at": publication[1],
    })
    tag_ids = await _set_tags(session, post_id, names)
    await counts.count_new(session, published=publication[0] is PostStatus.PUBLISHED, tag_ids=tag_ids)
    if publication[0] is PostStatus.PUBLISHED:
        await new_posts.announce(session, post_id, publication[1])
    return await get_post_view(session, slug, viewer_id=author.id, admin=author.is_admin)


async def get_post_for_edit(session: AsyncSession, actor: User, slug: str) -> Post:
    post = await session.scalar(select(Post).where(Post.slug == slug))
    if post is None or not may_see(post, actor.id, actor.is_admin):
        raise NotFound("article")  # someone else's draft: as if there were none
    if not can_edit(actor, post):
        raise PermissionDenied(N_("only the author or an admin can change this post"))
    return post


async def update_post(session: AsyncSession, actor: User, slug: str, *, title: str | None = None,
                      description: str | None = None, body: str | None = None,
                      tags: str | list[str] | None = None, status: str | None = None,
                      publish_at: datetime | None = None) -> PostView:
    """Change the given fields; None leaves a field alone. The slug never changes,
    so links to the post keep working after its title is edited.  ``status`` and
    ``publish_at``: see ``_publication`` (a published post can go back to draft)."""
    post = await get_post_for_edit(session, actor, slug)
    errors = Errors()
    _check_fields(errors, title=title, description=description, body=body, creating=False)
    names = normalize_tags(tags, errors) if tags is not None else None
    publication = _publication(errors, status, publish_at, current=post)
    errors.raise_if_any()
    counted = publication is not None or names is not None  # what the kept counts depend on
    announced = (publication is not None and publication[0] is PostStatus.PUBLISHED
                 and publication != (post.status, post.published_at))  # published, or a new time
    async with counts.changing(session, [post.id]) if counted else nullcontext():
        if publication is not None:
            post.status, post.published_at = publication
        if title is not None:
            post.title = title.strip()
        if body is not None:
            post.body = body
        if description is not None:
            post.description = _description(description, post.body)
        if title is not None or body is not None:
            post.search_text = search.search_text(post.title, post.body)
        post.updated_at = utcnow()
        await session.flush()
        if names is not None:
            await _set_tags(session, post.id, names)
    if announced:
        await new_posts.announce(session, post.id, post.published_at)
    return await get_post_view(session, post.slug, viewer_id=actor.id, admin=actor.is_admin)


async def set_status_many(session: AsyncSession, post_ids: list[int], status: PostStatus) -> int:
    """Publish or unpublish these posts at once (the admin's bulk actions), as
    ``_publication`` does for one post: publishing a draft or a scheduled post makes it
    public now, a post already public keeps its time; unpublishing makes a draft (no
    publish time).  Posts already in that state are left alone (``updated_at`` too).
    The posts' rows are locked in id order first.  How many posts changed."""
    status = PostStatus(status)
    ids = sorted(set(post_ids))
    if not ids:
        return 0
    now = utcnow()
    rows = (await session.execute(
        select(Post.id, Post.status, Post.published_at).where(Post.id.in_(ids))
        .order_by(Post.id).with_for_update())).all()
    if status is PostStatus.PUBLISHED:
        changing = [row.id for row in rows if post_state(row.status, row.published_at, now) != PUBLISHED]
        values = {"status": PostStatus.PUBLISHED, "published_at": now, "updated_at": now}
    else:
        changing = [row.id for row in rows if post_state(row.status, row.published_at, now) != DRAFT]
        values = {"status": PostStatus.DRAFT, "published_at": None, "updated_at": now}
    if changing:
        async with counts.changing(session, changing):
            await session.execute(update(Post).where(Post.id.in_(changing)).values(**values)
                                  .execution_options(synchronize_session=False))
        if status is PostStatus.PUBLISHED:
            for post_id in changing:
                await new_posts.announce(session, post_id, now)
    return len(changing)


async def delete_post(session: AsyncSession, actor: User, slug: str) -> None:
    post = await get_post_for_edit(session, actor, slug)
    async with counts.changing(session, [post.id]):
        await session.execute(delete(Post).where(Post.id == post.id).execution_options(synchronize_session=False))
    session.expunge(post)


# --- favorites --------------------------------------------------------------------------

async def favorite(session: AsyncSession, user: User, slug: str) -> PostView:
    post_id = await visible_post_id(session, slug, user)
    # A double click: the second insert finds the first one's row and does nothing.
    await insert_missing(session, favorites, [{"user_id": user.id, "post_id": post_id,
                                               "created_at": utcnow()}], ["user_id", "post_id"])
    return await get_post_view(session, slug, viewer_id=user.id, admin=user.is_admin)


async def unfavorite(session: AsyncSession, user: User, slug: str) -> PostView:
    post_id = await visible_post_id(session, slug, user)
    await session.execute(delete(favorites).where(
        favorites.c.user_id == user.id, favorites.c.post_id == post_id))
    return await get_post_view(session, slug, viewer_id=user.id, admin=user.is_admin)

