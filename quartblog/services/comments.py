"""Comments on posts: oldest first, each with its author.

Moderation (services/moderation.py): a comment is ``published``, ``hidden`` or
``pending`` (held for approval).  Everyone sees the published ones; the comment's
writer also sees their own pending ones; moderators (admins, and the post's author
on their own post) see all of them, marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Integer, bindparam, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from ..models import Comment, CommentState, Post, User
from ..types import utcnow
from .text import check_text
from .errors import Errors, Message, N_, NotFound, PermissionDenied
from . import audit, notifications, settings, verification
from ..db import read_rows
from .posts import AuthorRow, may_see, visible_post
from .users import following_expr

COMMENT_MAX = 10_000


@dataclass(slots=True)
class CommentRow:
    """A comment's columns, as lists load them (plain values, not an ORM object)."""

    id: int
    body: str
    created_at: datetime
    updated_at: datetime
    post_id: int
    author_id: int
    state: CommentState


@dataclass
class CommentView:
    comment: Comment | CommentRow
    author: User | AuthorRow
    following_author: bool

    @property
    def state(self) -> str:
        return CommentState(self.comment.state).value


def can_moderate(user: User | None, post_author_id: int) -> bool:
    """Admins everywhere, a post's author on their own post: hide, approve, delete."""
    return user is not None and not user.disabled and (user.is_admin or user.id == post_author_id)


def can_delete(user: User | None, comment: Comment, post_author_id: int | None = None) -> bool:
    """The comment's writer, the post's author or an admin may delete it."""
    if user is None or user.disabled:
        return False
    return user.id == comment.author_id or can_moderate(user, post_author_id if post_author_id is not None else -1)


def may_act(actor: User, post, comment: Comment, *, allowed: bool, why: str) -> None:
    """Refuse an action on ``comment`` of ``post`` (``author_id``, ``status``,
    ``published_at``) unless ``allowed``: NotFound when the actor may not see the comment
    (a draft or scheduled post of someone else's, a hidden comment, someone else's pending
    one), the answer reading it gives, so no action tells that it exists; else
    PermissionDenied(``why``)."""
    if not may_see(post, actor.id, actor.is_admin):
        raise NotFound("comment")
    if allowed:
        return
    shown = comment.state == CommentState.PUBLISHED or (
        comment.state == CommentState.PENDING and comment.author_id == actor.id)
    if not shown and not can_moderate(actor, post.author_id):
        raise NotFound("comment")
    raise PermissionDenied(why)


def visible_to(viewer_id: int | None, moderator: bool):
    """SQL: the comments this viewer sees."""
    if moderator:
        return None
    shown = Comment.state == CommentState.PUBLISHED
    if viewer_id is not None:
        shown = or_(shown, (Comment.state == CommentState.PENDING) & (Comment.author_id == viewer_id))
    return shown


@lru_cache(maxsize=None)
def _list_statement(*, has_viewer: bool, moderator: bool) -> Select:
    """A post's comments with their authors' columns, oldest first: plain rows, built
    once per shape (parameters ``post_id``, ``viewer_id``)."""
    viewer_id = bindparam("viewer_id", type_=Integer) if has_viewer else None
    statement = (
        select(Comment.id, Comment.body, Comment.created_at, Comment.updated_at, Comment.post_id,
               Comment.author_id, Comment.state, User.username, User.bio, User.image,
               following_expr(viewer_id, Comment.author_id).label("following"))
        .join(User, User.id == Comment.author_id)
        .where(Comment.post_id == bindparam("post_id", type_=Integer))
        .order_by(Comment.created_at, Comment.id)
    )
    shown = visible_to(viewer_id, moderator)
    return statement if shown is None else statement.where(shown)


async def list_comments(session: AsyncSession, post_id: int, *, viewer_id: int | None = None,
                        moderator: bool = False) -> list[CommentView]:
    """The comments the viewer sees (``visible_to``); ``moderator``: all of them."""
    statement = _list_statement(has_viewer=viewer_id is not None, moderator=moderator)
    rows = await read_rows(session, statement, {"post_id": post_id, "viewer_id": viewer_id})
    return [CommentView(
        comment=CommentRow(id=r.id, body=r.body, created_at=r.created_at, updated_at=r.updated_at,
                           post_id=r.post_id, author_id=r.author_id, state=r.state),
        author=AuthorRow(id=r.author_id, username=r.username, bio=r.bio, image=r.image),
        following_author=bool(r.following)) for r in rows]


async def list_comments_for_slug(session: AsyncSession, slug: str, *,
                                 viewer: User | None = None) -> list[CommentView]:
    """Comments of the post with this slug (NotFound for an unknown slug, or a draft or
    scheduled post ``viewer`` may not see), in two statements."""
    row = await visible_post(session, slug, viewer)
    return await list_comments(session, row.id, viewer_id=viewer.id if viewer else None,
                               moderator=can_moderate(viewer, row.author_id))


async def held(session: AsyncSession, author: User, post_author_id: int) -> bool:
    """Is a new comment by ``author`` held for approval?  Comments from accounts younger
    than the blog's setting (days; 0 holds none) are, except an admin's and the post's
    author's own."""
    if author.is_admin or author.id == post_author_id:
        return False
    days = await settings.get(session, settings.HOLD_DAYS)
    return days > 0 and author.created_at > utcnow() - timedelta(days=days)


async def add_comment(session: AsyncSession, author: User, slug: str, body: str | None, *,
                      base_url: str | None = None) -> CommentView:
    """A new comment (held for approval: ``held``); its post's author is told by mail
    (services/notifications.py; ``base_url``: where the mail's links point without SITE_URL)."""
    errors = Errors()
    if body is None or not body.strip():
        errors.add("body", N_("can't be blank"))
    elif len(body) > COMMENT_MAX:
        errors.add("body", Message("is too long (maximum is %(maximum)d characters)", maximum=COMMENT_MAX))
    else:
        check_text(errors, "body", body, multiline=True)
    post = await visible_post(session, slug, author)
    await verification.require_verified(session, author)
    errors.raise_if_any()
    now = utcnow()
    state = CommentState.PENDING if await held(session, author, post.author_id) else CommentState.PUBLISHED
    comment = Comment(body=body.strip(), post_id=post.id, author_id=author.id,
                      created_at=now, updated_at=now, state=state)
    session.add(comment)
    await session.flush()
    await notifications.comment_added(session, comment, post.author_id, base_url=base_url)
    return CommentView(comment=comment, author=author, following_author=False)


async def delete_comment(session: AsyncSession, actor: User, slug: str, comment_id: int) -> None:
    found = (await session.execute(
        select(Comment, Post.author_id, Post.status, Post.published_at).join(Post, Post.id == Comment.post_id)
        .where(Post.slug == slug, Comment.id == comment_id)
    )).first()
    if found is None:
        raise NotFound("comment")
    row, post_author_id = found[0], found.author_id
    may_act(actor, found, row, allowed=can_delete(actor, row, post_author_id),
            why=N_("only the comment's author, the post's author or an admin can delete it"))
    await session.execute(delete(Comment).where(Comment.id == row.id).execution_options(synchronize_session=False))
    session.expunge(row)
    if actor.id != row.author_id:  # a moderator's action
        await audit.record(session, actor, "comment.delete", f"comment:{row.id}", f"post:{slug}")
