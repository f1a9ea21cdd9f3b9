"""Comments on posts: oldest first, each with its author."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from ..models import Comment, Post, User
from ..types import utcnow
from .text import check_text
from .errors import Errors, Message, N_, NotFound, PermissionDenied
from .posts import visible_post_id
from .users import following_expr

COMMENT_MAX = 10_000


@dataclass
class CommentView:
    comment: Comment  # with .author loaded
    following_author: bool

    @property
    def author(self) -> User:
        return self.comment.author


def can_delete(user: User | None, comment: Comment) -> bool:
    """The comment's author or an admin may delete it."""
    return user is not None and (user.is_admin or user.id == comment.author_id)


def _views_query(viewer_id: int | None):
    return (
        select(Comment, following_expr(viewer_id, Comment.author_id))
        .join(Comment.author)
        .options(contains_eager(Comment.author))
    )


async def list_comments(session: AsyncSession, post_id: int, *, viewer_id: int | None = None) -> list[CommentView]:
    rows = await session.execute(
        _views_query(viewer_id).where(Comment.post_id == post_id)
        .order_by(Comment.created_at, Comment.id)
    )
    return [CommentView(comment=c, following_author=bool(f)) for c, f in rows]


async def list_comments_for_slug(session: AsyncSession, slug: str, *,
                                 viewer: User | None = None) -> list[CommentView]:
    """Comments of the post with this slug (NotFound for an unknown slug, or a draft or
    scheduled post ``viewer`` may not see), in two statements."""
    post_id = await visible_post_id(session, slug, viewer)
    return await list_comments(session, post_id, viewer_id=viewer.id if viewer else None)


async def add_comment(session: AsyncSession, author: User, slug: str, body: str | None) -> CommentView:
    errors = Errors()
    if body is None or not body.strip():
        errors.add("body", N_("can't be blank"))
    elif len(body) > COMMENT_MAX:
        errors.add("body", Message("is too long (maximum is %(maximum)d characters)", maximum=COMMENT_MAX))
    else:
        check_text(errors, "body", body, multiline=True)
    post_id = await visible_post_id(session, slug, author)
    errors.raise_if_any()
    now = utcnow()
    comment = Comment(body=body.strip(), post_id=post_id, author_id=author.id,
                      created_at=now, updated_at=now)
    comment.author = author
    session.add(comment)
    await session.flush()
    return CommentView(comment=comment, following_author=False)


async def delete_comment(session: AsyncSession, actor: User, slug: str, comment_id: int) -> None:
    row = (await session.execute(
        select(Comment).join(Post, Post.id == Comment.post_id)
        .where(Post.slug == slug, Comment.id == comment_id)
    )).scalar_one_or_none()
    if row is None:
        raise NotFound("comment")
    if not can_delete(actor, row):
        raise PermissionDenied(N_("only the comment's author or an admin can delete it"))
    await session.execute(delete(Comment).where(Comment.id == row.id).execution_options(synchronize_session=False))
    session.expunge(row)
