"""Mail about one's posts: a post's author is told of each new comment by someone else
(or of one held for approval), if they want it (``users.notify_comments``: the settings
page, ``PUT /api/user``'s ``notifyComments``, or the mail's own unsubscribe link).

The job (``mail.new_comment``) is written in the comment's transaction, so a refused or
rolled-back comment queues nothing; quartblog/jobs/notifications.py sends it, checking
again that the author still wants it and the comment is still there.

Every such mail carries a one-click unsubscribe link (RFC 8058): a token signed with the
app's secret key (no row: ``link_tokens.serializer``) naming the account (its id and
creation time, so an id SQLite hands out again opens nothing).  The link works without
a session or a CSRF token (a mail client POSTs ``List-Unsubscribe=One-Click``) and only
ever turns the notifications off.

Replies to comments do not exist in quartblog (comments are not threaded): nobody but
the post's author is told."""

from __future__ import annotations

from itsdangerous import BadSignature
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Comment, User
from . import link_tokens, outbox

COMMENT_KIND = "mail.new_comment"
UNSUBSCRIBE_PURPOSE = "unsubscribe-comments"
EXCERPT_MAX = 500  # characters of the comment in the mail


async def comment_added(session: AsyncSession, comment: Comment, post_author_id: int, *,
                        base_url: str | None = None) -> None:
    """Queue the mail to the post's author about ``comment`` (flushed), unless they wrote it
    or do not want it."""
    if comment.author_id == post_author_id:
        return
    wants = await session.scalar(select(User.notify_comments).where(
        User.id == post_author_id, User.disabled.is_(False)))
    if wants:
        await outbox.enqueue(session, COMMENT_KIND, {"comment_id": comment.id, "base_url": base_url})


def excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """The comment's text for a mail: plain (its Markdown as written), at most ``limit`` characters."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def unsubscribe_token(secret_key: str, user: User) -> str:
    return link_tokens.serializer(secret_key, UNSUBSCRIBE_PURPOSE).dumps(
        [user.id, int(user.created_at.timestamp())])


async def unsubscriber(session: AsyncSession, token: str, *, secret_key: str) -> User | None:
    """The account an unsubscribe token names, or None (forged, or the account is gone)."""
    try:
        user_id, created = link_tokens.serializer(secret_key, UNSUBSCRIBE_PURPOSE).loads(token)
    except (BadSignature, TypeError, ValueError):
        return None
    if not isinstance(user_id, int) or not isinstance(created, int):
        return None
    user = await session.get(User, user_id)
    if user is None or int(user.created_at.timestamp()) != created:
        return None
    return user


async def unsubscribe(session: AsyncSession, token: str, *, secret_key: str) -> User | None:
    """Turn the account's comment notifications off (one click); None for a bad token."""
    user = await unsubscriber(session, token, secret_key=secret_key)
    if user is not None and user.notify_comments:
        user.notify_comments = False
        await session.flush()
    return user
