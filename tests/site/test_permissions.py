"""Who may do what: every role against every action, and CSRF on every form."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from quartblog.models import Comment, Post, Role, User
from quartblog.services import comments

from ..factories import make_post

ROLES = ["anonymous", "reader", "author", "other", "admin"]  # "author" wrote the post


async def _set_up(db_session, people):
    await make_post(db_session, people["author"], "The post")
    view = await comments.add_comment(db_session, people["author"], "the-post", "A comment")
    await db_session.commit()
    return view.comment.id


async def _count(db_session, model, *where) -> int:
    db_session.expire_all()
    return await db_session.scalar(select(func.count()).select_from(model).where(*where))


ALLOWED = {
    # action: roles that may do it
    "write": {"reader": False, "author": True, "other": True, "admin": True},
    "edit": {"reader": False, "author": True, "other": False, "admin": True},
    "delete": {"reader": False, "author": True, "other": False, "admin": True},
    "comment": {"reader": True, "author": True, "other": True, "admin": True},
    "delete comment": {"reader": False, "author": True, "other": False, "admin": True},
    "change role": {"reader": False, "author": False, "other": False, "admin": True},
}


async def _do(action: str, browser, comment_id: int):
    if action == "write":
        return await browser.post("/write", {"title": "New one", "body": "text", "description": "", "tags": ""})
    if action == "edit":
        return await browser.post("/posts/the-post/edit", {"title": "Changed", "body": "text",
                                                           "description": "", "tags": ""})
    if action == "delete":
        return await browser.post("/posts/the-post/delete")
    if action == "comment":
        return await browser.post("/posts/the-post/comments", {"body": "Me too"})
    if action == "delete comment":
        return await browser.post(f"/posts/the-post/comments/{comment_id}/delete")
    if action == "change role":
        return await browser.post("/admin/users/rita/role", {"role": "author"})
    raise AssertionError(action)


async def _happened(action: str, db_session) -> bool:
    if action == "write":
        return await _count(db_session, Post, Post.title == "New one") == 1
    if action == "edit":
        return await _count(db_session, Post, Post.title == "Changed") == 1
    if action == "delete":
        return await _count(db_session, Post) == 0
    if action == "comment":
        return await _count(db_session, Comment, Comment.body == "Me too") == 1
    if action == "delete comment":
        return await _count(db_session, Comment) == 0
    if action == "change role":
        return await _count(db_session, User, User.username == "rita", User.role == Role.AUTHOR) == 1
    raise AssertionError(action)


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("action", list(ALLOWED))
async def test_permission_matrix(action, who, as_user, people, db_session):
    comment_id = await _set_up(db_session, people)
    browser = await as_user(None if who == "anonymous" else who)
    page = await _do(action, browser, comment_id)
    if who == "anonymous":
        assert page.status == 302 and page.location.startswith("/login")
        assert not await _happened(action, db_session)
    elif ALLOWED[action][who]:
        assert page.status == 303, page.text
        assert await _happened(action, db_session)
    else:
        assert page.status == 403
        assert "Not allowed" in page.text
        assert not await _happened(action, db_session)


@pytest.mark.parametrize("who, status", [("author", 200), ("other", 403), ("admin", 200), ("reader", 403)])
async def test_edit_form_and_controls_are_for_the_author_and_admins(who, status, as_user, people, db_session):
    await _set_up(db_session, people)
    browser = await as_user(who)
    assert (await browser.get("/posts/the-post/edit")).status == status
    post_page = (await browser.get("/posts/the-post")).text
    assert ('href="/posts/the-post/edit"' in post_page) == (status == 200)
    assert ("/comments/" in post_page and "/delete" in post_page) == (status == 200)


async def test_only_admins_see_the_user_list(as_user, people):
    assert (await (await as_user("author")).get("/admin/users")).status == 403
    page = await (await as_user("admin")).get("/admin/users")
    assert page.status == 200 and "rita" in page.text and "<select" in page.text


async def test_the_last_admin_cannot_step_down(as_user, people, db_session):
    admin = await as_user("admin")
    page = await admin.post("/admin/users/root/role", {"role": "author"}, follow=True)
    assert "the last admin cannot step down" in page.text
    assert await _count(db_session, User, User.role == Role.ADMIN) == 1


@pytest.mark.parametrize("token", [None, "forged-token"])
async def test_a_form_without_the_right_csrf_token_is_refused_and_changes_nothing(token, as_user, people, db_session):
    comment_id = await _set_up(db_session, people)
    browser = await as_user("admin")
    for action in ALLOWED:
        form = {"title": "New one", "body": "Me too", "description": "", "tags": "", "role": "author"}
        if token:
            form["csrf_token"] = token
        url = {"write": "/write", "edit": "/posts/the-post/edit", "delete": "/posts/the-post/delete",
               "comment": "/posts/the-post/comments",
               "delete comment": f"/posts/the-post/comments/{comment_id}/delete",
               "change role": "/admin/users/rita/role"}[action]
        page = await browser.post(url, form, csrf=False)
        assert page.status == 400, action
        assert not await _happened(action, db_session), action
    logout = await browser.post("/logout", csrf=False)
    assert logout.status == 400
    assert (await browser.get("/settings")).status == 200  # still signed in


async def test_the_api_is_not_subject_to_the_sites_csrf_check(client):
    response = await client.post("/api/users/login", json={"user": {"email": "x@example.com", "password": "y"}})
    assert b"did not come from this site" not in await response.get_data()
    assert response.status_code in (401, 403, 422)  # refused by the API's own rules, not by CSRF
