"""Nobody learns that a draft, or a comment they may not see, exists by acting on it
(issue 22, finding 5): every action on an object the person may not see answers 404, as
reading it does; 403 stays for objects they see but may not change."""

from __future__ import annotations

from datetime import timedelta

import re

import pytest
from sqlalchemy import select

from quartblog.models import Comment, CommentState
from quartblog.services import comments, posts
from quartblog.types import utcnow

ACTIONS = ["hide", "unhide", "approve", "delete"]


async def _comment(db_session, writer, slug: str, state: CommentState = CommentState.PUBLISHED) -> int:
    view = await comments.add_comment(db_session, writer, slug, "A comment")
    view.comment.state = state
    await db_session.commit()
    return view.comment.id


async def _post(db_session, author, title: str, **publication) -> str:
    view = await posts.create_post(db_session, author, title=title, description=None, body="Text.",
                                   **publication)
    await db_session.commit()
    return view.post.slug


@pytest.fixture
async def hidden_things(db_session, people) -> dict[str, tuple[str, int]]:
    """Comments that the reader and the other author may not see: (slug, comment id)."""
    author = people["author"]
    draft = await _post(db_session, author, "A draft", status="draft")
    scheduled = await _post(db_session, author, "Coming soon", status="scheduled",
                            publish_at=utcnow() + timedelta(days=2))
    public = await _post(db_session, author, "Public")
    return {
        "on a draft": (draft, await _comment(db_session, author, draft)),
        "on a scheduled post": (scheduled, await _comment(db_session, author, scheduled)),
        "hidden": (public, await _comment(db_session, people["admin"], public, CommentState.HIDDEN)),
        "pending": (public, await _comment(db_session, people["admin"], public, CommentState.PENDING)),
    }


def _message(html: str) -> str:
    """The page without its CSRF tokens (new for each page)."""
    return re.sub(r'name="csrf_token" value="[^"]*"', "", html)


def _url(slug: str, comment_id: int, action: str) -> str:
    return f"/posts/{slug}/comments/{comment_id}/{action}"


async def _state(db_session, comment_id: int):
    await db_session.rollback()
    return await db_session.scalar(select(Comment.state).where(Comment.id == comment_id))


@pytest.mark.parametrize("who", ["reader", "other"])
@pytest.mark.parametrize("what", ["on a draft", "on a scheduled post", "hidden", "pending"])
@pytest.mark.parametrize("action", ACTIONS)
async def test_acting_on_a_comment_one_may_not_see_is_404(as_user, db_session, hidden_things, who, what, action):
    slug, comment_id = hidden_things[what]
    before = await _state(db_session, comment_id)
    browser = await as_user(who)
    page = await browser.post(_url(slug, comment_id, action))
    assert page.status == 404
    missing = await browser.post(_url(slug, comment_id + 1000, action))
    # the same answer as no comment at all
    same_link = missing.text.replace(f"/{comment_id + 1000}/", f"/{comment_id}/")  # the language links
    assert (missing.status, _message(same_link)) == (page.status, _message(page.text))
    assert "Comment not found" in page.text
    assert await _state(db_session, comment_id) == before


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_comment_one_sees_but_may_not_change_is_still_403(as_user, db_session, people, action):
    slug = await _post(db_session, people["author"], "Public")
    comment_id = await _comment(db_session, people["admin"], slug)
    page = await (await as_user("other")).post(_url(slug, comment_id, action))
    assert page.status == 403
    assert await _state(db_session, comment_id) == CommentState.PUBLISHED


async def test_the_post_author_still_moderates_comments_on_their_draft(as_user, db_session, hidden_things):
    slug, comment_id = hidden_things["on a draft"]
    browser = await as_user("author")
    assert (await browser.post(_url(slug, comment_id, "hide"))).status == 303
    assert await _state(db_session, comment_id) == CommentState.HIDDEN
