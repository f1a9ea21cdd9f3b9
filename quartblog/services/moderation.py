"""Comment moderation: hide, show again, approve; the queue of held comments.

Who may: admins on every post, a post's author on their own post
(``comments.can_moderate``).  Which comments are held: ``comments.held`` (accounts
younger than the blog's ``moderation.hold_new_accounts_days`` setting).  Every
moderation action writes an audit row (services/audit.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Comment, CommentState, Post, User
from . import audit
from .paging import Page
from .comments import CommentView, can_moderate, may_act
from .errors import N_, NotFound, PermissionDenied, ValidationFailed

ACTIONS = {  # action -> the state it gives
    "hide": CommentState.HIDDEN,
    "unhide": CommentState.PUBLISHED,
    "approve": CommentState.PUBLISHED,
}


async def set_state(session: AsyncSession, actor: User, slug: str, comment_id: int, action: str) -> CommentView:
    """Hide, unhide or approve a comment of the post with this slug.  The comment's row
    is locked, so two moderators acting at once are serialized (the last one wins,
    both are audited)."""
    state = ACTIONS.get(action)
    if state is None:
        raise ValidationFailed.one("action", N_("is not a known action"))
    comment = await session.scalar(
        select(Comment).where(Comment.id == comment_id).with_for_update().execution_options(populate_existing=True))
    found = comment and (await session.execute(
        select(User, Post.author_id, Post.status, Post.published_at).join(Post, Post.id == comment.post_id)
        .where(User.id == comment.author_id, Post.slug == slug))).first()
    if not found:
        raise NotFound("comment")
    writer, post_author_id = found[0], found.author_id
    may_act(actor, found, comment, allowed=can_moderate(actor, post_author_id),
            why=N_("only the post's author or an admin can moderate its comments"))
    if action == "approve" and comment.state != CommentState.PENDING:
        raise ValidationFailed.one("comment", N_("is not waiting for approval"))
    comment.state = state
    await session.flush()
    await audit.record(session, actor, f"comment.{action}", f"comment:{comment.id}", f"post:{slug}")
    return CommentView(comment=comment, author=writer, following_author=False)


@dataclass
class QueueItem:
    id: int
    body: str
    state: str
    created_at: datetime
    author: str
    post_slug: str
    post_title: str


@dataclass
class Queue(Page):
    items: list[QueueItem]


QUEUE_STATES = ("pending", "hidden", "published")


async def list_queue(session: AsyncSession, *, state: str = "pending", limit: int, offset: int) -> Queue:
    """Comments in one state, newest first, with their writer and post: two statements."""
    try:
        wanted = CommentState(state)
    except ValueError:
        wanted = CommentState.PENDING
    total = await session.scalar(select(func.count()).select_from(Comment).where(Comment.state == wanted))
    rows = await session.execute(
        select(Comment.id, Comment.body, Comment.state, Comment.created_at, User.username,
               Post.slug, Post.title)
        .join(User, User.id == Comment.author_id).join(Post, Post.id == Comment.post_id)
        .where(Comment.state == wanted).order_by(Comment.id.desc()).limit(limit).offset(offset))
    items = [QueueItem(id=r[0], body=r[1], state=CommentState(r[2]).value, created_at=r[3], author=r[4],
                       post_slug=r[5], post_title=r[6]) for r in rows]
    return Queue(items=items, total=int(total or 0), limit=limit, offset=offset)


async def slug_of_comment(session: AsyncSession, comment_id: int) -> str:
    """The slug of a comment's post (the admin's queue addresses comments by id)."""
    slug = await session.scalar(select(Post.slug).join(Comment, Comment.post_id == Post.id)
                                .where(Comment.id == comment_id))
    if slug is None:
        raise NotFound("comment")
    return slug
