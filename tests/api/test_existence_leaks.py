"""The API never tells that a draft, or a comment one may not see, exists (issue 22,
finding 5): acting on it is 404, as reading it is; 403 only for what one sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from quartblog.models import Comment, CommentState, Role
from quartblog.services import comments, posts
from quartblog.types import utcnow

from ..factories import PASSWORD, make_user

ACTIONS = [("POST", "hide"), ("POST", "unhide"), ("POST", "approve"), ("DELETE", "")]


@pytest.fixture
async def tokens(client, db_session) -> dict[str, dict[str, str]]:
    """Authorization headers of a reader and of an author who did not write the post."""
    headers = {}
    for name, role in (("rita", Role.READER), ("otto", Role.AUTHOR)):
        await make_user(db_session, name, role)
        response = await client.post("/api/users/login", json={"user": {"email": f"{name}@example.com",
                                                                        "password": PASSWORD}})
        headers[name] = {"Authorization": f"Token {(await response.get_json())['user']['token']}"}
    return headers


@pytest.fixture
async def hidden_things(db_session) -> dict[str, tuple[str, int]]:
    author = await make_user(db_session, "ada")
    admin = await make_user(db_session, "root", Role.ADMIN)

    async def post(title: str, **publication) -> str:
        view = await posts.create_post(db_session, author, title=title, description=None, body="Text.",
                                       **publication)
        return view.post.slug

    async def comment(writer, slug: str, state=CommentState.PUBLISHED) -> int:
        view = await comments.add_comment(db_session, writer, slug, "A comment")
        view.comment.state = state
        await db_session.flush()
        return view.comment.id

    draft = await post("A draft", status="draft")
    scheduled = await post("Coming soon", status="scheduled", publish_at=utcnow() + timedelta(days=2))
    public = await post("Public")
    things = {
        "on a draft": (draft, await comment(author, draft)),
        "on a scheduled post": (scheduled, await comment(author, scheduled)),
        "hidden": (public, await comment(admin, public, CommentState.HIDDEN)),
        "pending": (public, await comment(admin, public, CommentState.PENDING)),
        "published": (public, await comment(admin, public)),
    }
    await db_session.commit()
    return things


def _url(slug: str, comment_id: int, action: str) -> str:
    return f"/api/articles/{slug}/comments/{comment_id}" + (f"/{action}" if action else "")


async def _state(db_session, comment_id: int):
    await db_session.rollback()
    return await db_session.scalar(select(Comment.state).where(Comment.id == comment_id))


@pytest.mark.parametrize("who", ["rita", "otto"])
@pytest.mark.parametrize("what", ["on a draft", "on a scheduled post", "hidden", "pending"])
@pytest.mark.parametrize("method,action", ACTIONS)
async def test_acting_on_a_comment_one_may_not_see_is_404(client, db_session, tokens, hidden_things,
                                                          who, what, method, action):
    slug, comment_id = hidden_things[what]
    before = await _state(db_session, comment_id)
    response = await client.open(_url(slug, comment_id, action), method=method, headers=tokens[who])
    missing = await client.open(_url(slug, comment_id + 1000, action), method=method, headers=tokens[who])
    assert response.status_code == 404
    assert await response.get_json() == await missing.get_json()  # as if there were no such comment
    assert await _state(db_session, comment_id) == before


@pytest.mark.parametrize("method,action", ACTIONS)
async def test_a_comment_one_sees_but_may_not_change_is_still_403(client, db_session, tokens, hidden_things,
                                                                  method, action):
    slug, comment_id = hidden_things["published"]
    response = await client.open(_url(slug, comment_id, action), method=method, headers=tokens["otto"])
    assert response.status_code == 403
    assert await _state(db_session, comment_id) == CommentState.PUBLISHED
