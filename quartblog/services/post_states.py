"""The one rule for who sees a post.  A post is a draft, scheduled or published: what is
stored is ``status`` (draft/published) and ``published_at`` (UTC), and a published post
whose time has not come is scheduled.  Lists show only ``public_condition``, so a
scheduled post appears at its time with nothing running then; a post that is not public
is seen only by its author and admins (``NotFound`` for everyone else: its existence
does not leak)."""

from __future__ import annotations

from datetime import datetime

from ..models import Post, PostStatus
from ..types import utcnow

DRAFT, SCHEDULED, PUBLISHED = "draft", "scheduled", "published"
STATES = (DRAFT, PUBLISHED, SCHEDULED)


def post_state(status: str | PostStatus, published_at: datetime | None, now: datetime | None = None) -> str:
    if PostStatus(status) is PostStatus.DRAFT or published_at is None:
        return DRAFT
    return SCHEDULED if published_at > (now or utcnow()) else PUBLISHED


def public_condition(now: datetime):
    """The posts everyone may see: published, and their time has come."""
    return (Post.status == PostStatus.PUBLISHED) & (Post.published_at <= now)


def scheduled_condition(now: datetime):
    """Published posts whose time is still ahead (usually none or a few)."""
    return (Post.status == PostStatus.PUBLISHED) & (Post.published_at > now)


def draft_condition():
    return (Post.status == PostStatus.DRAFT) | Post.published_at.is_(None)


def dated_condition():
    """Published with a time, come or not: what the kept counts count (services/counts.py)."""
    return (Post.status == PostStatus.PUBLISHED) & Post.published_at.is_not(None)


def state_condition(state: str, now: datetime):
    """The posts in ``state`` (one of ``STATES``) as of ``now``."""
    if state == DRAFT:
        return draft_condition()
    if state == SCHEDULED:
        return scheduled_condition(now)
    return public_condition(now)


def may_see(post: Post, viewer_id: int | None, admin: bool = False) -> bool:
    """Drafts and scheduled posts: their author and admins only (``post``: a Post or a PostRow)."""
    return admin or post_state(post.status, post.published_at) == PUBLISHED or (
        viewer_id is not None and viewer_id == post.author_id)


class HasState:
    """For a row with ``status`` and ``published_at``: its state as of now."""

    __slots__ = ()

    @property
    def state(self) -> str:
        """``draft``, ``scheduled`` or ``published``, as of now."""
        return post_state(self.status, self.published_at)  # type: ignore[attr-defined]
