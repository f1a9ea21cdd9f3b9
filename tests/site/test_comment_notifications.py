"""A post's author hears of new comments by mail, as they meet it: the mail at a real SMTP
server (site and API comments alike), the held comment's "waits for your approval", none
for one's own comments or once turned off (settings page, API), the one-click unsubscribe
that a mail client POSTs with no cookie, and nothing queued by a refused comment."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from quartblog.db import get_db
from quartblog.jobs import drain
from quartblog.models import Comment, Job, Role, User
from quartblog.services import comments, notifications, settings

from ..factories import PASSWORD, make_post, make_user
from ..mailbox import html_of, text_of
from .conftest import Browser



@pytest.fixture
def app_config(mailbox):
    return {"SMTP_URL": mailbox.url, "SITE_URL": "http://blog.test", "MAIL_FROM": "Blog <blog@blog.test>"}


async def queued(db_session) -> int:
    await db_session.rollback()
    return await db_session.scalar(select(func.count()).select_from(Job).where(
        Job.kind == notifications.COMMENT_KIND))


async def notify_flag(db_session, name: str) -> bool:
    await db_session.rollback()
    db_session.expire_all()
    return await db_session.scalar(select(User.notify_comments).where(User.username == name))


async def signed_in(client, name: str) -> Browser:
    browser = Browser(client)
    await browser.log_in(name)
    return browser


def unsubscribe_path(message) -> str:
    url = str(message["List-Unsubscribe"]).strip("<>")
    assert url.startswith("http://blog.test/unsubscribe/comments/"), url
    return url.removeprefix("http://blog.test")


async def test_the_author_is_told_of_a_new_comment(app, client, db_session, mailbox):
    ada = await make_user(db_session, "ada")
    await make_user(db_session, "otto")
    await make_post(db_session, ada, "Hello world")
    await drain(app)  # the posts' own announcements to subscribers (there are none)
    otto = await signed_in(client, "otto")
    body = "Great post! <b>bold</b>\n\n" + "more words " * 100
    assert (await otto.post("/posts/hello-world/comments", {"body": body})).status == 303
    assert await queued(db_session) == 1
    assert await drain(app) == 1
    [message] = await mailbox.wait_for(1)
    comment_id = await db_session.scalar(select(Comment.id))
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "New comment on “Hello world”"
    text = text_of(message)
    assert "Hello ada," in text and "otto commented on your post “Hello world”" in text
    assert "Great post! <b>bold</b>" in text and "more words " * 20 in text and body.strip() not in text  # shortened
    assert f"http://blog.test/posts/hello-world#comment-{comment_id}" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in html_of(message)  # the HTML part escapes it
    # one-click unsubscribe (RFC 8058), in the header and in the text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"http://blog.test{unsubscribe_path(message)}" in text
    assert await drain(app) == 0 and len(mailbox.messages) == 1  # sent once


async def test_no_mail_for_ones_own_comment_nor_once_turned_off(app, client, db_session, mailbox):
    ada = await make_user(db_session, "ada")
    await make_user(db_session, "otto")
    await make_post(db_session, ada, "Hello world")
    await drain(app)  # the posts' own announcements to subscribers (there are none)
    ada_browser = await signed_in(client, "ada")
    assert (await ada_browser.post("/posts/hello-world/comments", {"body": "My own"})).status == 303
    assert await queued(db_session) == 0

    settings_page = await ada_browser.get("/settings")
    assert 'name="notify_comments" value="on" checked' in settings_page.text
    saved = await ada_browser.post("/settings", {"email": "ada@example.com", "bio": "", "image": "",
                                                 "notifications": "1"}, follow=True)
    assert "Your settings are saved" in saved.text and 'name="notify_comments" value="on" checked' not in saved.text
    assert await notify_flag(db_session, "ada") is False
    otto = await signed_in(app.test_client(), "otto")
    assert (await otto.post("/posts/hello-world/comments", {"body": "Hi"})).status == 303
    assert await queued(db_session) == 0

    # on again through the API's extension field
    login = await app.test_client().post("/api/users/login", json={"user": {"email": "ada@example.com",
                                                                              "password": PASSWORD}})
    headers = {"Authorization": f"Token {(await login.get_json())['user']['token']}"}
    assert (await login.get_json())["user"]["notifyComments"] is False
    turned_on = await app.test_client().put("/api/user", headers=headers, json={"user": {"notifyComments": True}})
    assert turned_on.status_code == 200 and (await turned_on.get_json())["user"]["notifyComments"] is True
    assert await notify_flag(db_session, "ada") is True
    assert (await otto.post("/posts/hello-world/comments", {"body": "Again"})).status == 303
    assert await queued(db_session) == 1
    # turned off between the comment and the mail: nothing is sent
    off = await app.test_client().put("/api/user", headers=headers, json={"user": {"notifyComments": False}})
    assert off.status_code == 200
    assert await drain(app) == 1 and mailbox.messages == []


async def test_a_held_comment_is_announced_as_waiting_for_approval(app, client, db_session, mailbox):
    ada = await make_user(db_session, "ada")
    root = await make_user(db_session, "root", Role.ADMIN)
    await make_user(db_session, "otto")
    await make_post(db_session, ada, "Hello world")
    await make_post(db_session, root, "Admin post")
    await drain(app)  # the posts' own announcements to subscribers (there are none)
    await settings.store(db_session, {settings.HOLD_DAYS: 30})
    await db_session.commit()
    otto = await signed_in(client, "otto")
    assert (await otto.post("/posts/hello-world/comments", {"body": "Please approve"})).status == 303
    assert (await otto.post("/posts/admin-post/comments", {"body": "Me too"})).status == 303
    await drain(app)
    await mailbox.wait_for(2)
    [to_ada] = mailbox.to("ada@example.com")
    assert to_ada["Subject"] == "A comment waits for your approval on “Hello world”"
    assert "The comment waits for your approval" in text_of(to_ada) and "Please approve" in text_of(to_ada)
    assert re.search(r"http://blog\.test/posts/hello-world#comment-\d+", text_of(to_ada))  # she approves it there
    [to_root] = mailbox.to("root@example.com")
    assert "http://blog.test/admin/comments" in text_of(to_root)  # an admin's queue


async def test_a_comment_through_the_api_notifies_in_the_authors_language(app, client, db_session, mailbox):
    ada = await make_user(db_session, "ada")
    ada.locale = "zh_Hans"
    await db_session.commit()
    await make_post(db_session, ada, "Hello world")
    await drain(app)  # the posts' own announcements to subscribers (there are none)
    login = await client.post("/api/users", json={"user": {"username": "otto", "email": "otto@example.com",
                                                            "password": PASSWORD}})
    headers = {"Authorization": f"Token {(await login.get_json())['user']['token']}"}
    response = await client.post("/api/articles/hello-world/comments", headers=headers,
                                 json={"comment": {"body": "From the API"}})
    assert response.status_code == 200
    await drain(app)
    [message] = await mailbox.wait_for(1)
    assert message["To"] == "ada@example.com" and message["Content-Language"] == "zh-Hans"
    assert "From the API" in text_of(message)


async def test_one_click_unsubscribe_works_without_cookies(app, client, db_session, mailbox):
    ada = await make_user(db_session, "ada")
    await make_user(db_session, "otto")
    await make_post(db_session, ada, "Hello world")
    await drain(app)  # the posts' own announcements to subscribers (there are none)
    otto = await signed_in(client, "otto")
    await otto.post("/posts/hello-world/comments", {"body": "Hi"})
    await drain(app)
    [message] = await mailbox.wait_for(1)
    path = unsubscribe_path(message)

    page = await Browser(app.test_client()).get(path)  # a person opening the link: a page with a button
    assert page.status == 200 and 'action="' + path + '"' in page.text
    assert await notify_flag(db_session, "ada") is True
    # the mail client's POST: no cookie, no CSRF token, the RFC 8058 body
    bare = app.test_client()
    response = await bare.post(path, form={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert 'id="unsubscribed"' in await response.get_data(as_text=True)
    assert await notify_flag(db_session, "ada") is False
    assert (await app.test_client().post(path, form={"List-Unsubscribe": "One-Click"})).status_code == 200  # again: fine
    # a forged or altered token opens nothing
    assert (await app.test_client().post(path[:-2] + "xx", form={"List-Unsubscribe": "One-Click"})).status_code == 404
    assert (await app.test_client().get("/unsubscribe/comments/nonsense")).status_code == 404
    # other POSTs to the site still need their CSRF token
    assert (await app.test_client().post("/posts/hello-world/comments", form={"body": "x"})).status_code == 400

    await otto.post("/posts/hello-world/comments", {"body": "Another"})
    assert await queued(db_session) == 1  # the first one's job only


async def test_a_refused_or_rolled_back_comment_queues_nothing(app, client, db_session, mailbox):
    ada = await make_user(db_session, "ada")
    otto = await make_user(db_session, "otto")
    await make_post(db_session, ada, "Hello world")
    await drain(app)  # the posts' own announcements to subscribers (there are none)
    browser = await signed_in(client, "otto")
    refused = await browser.post("/posts/hello-world/comments", {"body": "   "})
    assert refused.status == 422
    login = await app.test_client().post("/api/users/login", json={"user": {"email": "otto@example.com",
                                                                              "password": PASSWORD}})
    headers = {"Authorization": f"Token {(await login.get_json())['user']['token']}"}
    too_long = await app.test_client().post("/api/articles/hello-world/comments", headers=headers,
                                            json={"comment": {"body": "x" * (comments.COMMENT_MAX + 1)}})
    assert too_long.status_code == 422
    assert await queued(db_session) == 0
    # queued inside the transaction, gone with its rollback
    async with get_db(app).session() as session:
        writer = await session.get(User, otto.id)
        await comments.add_comment(session, writer, "hello-world", "Rolled back")
        assert await session.scalar(select(func.count()).select_from(Job).where(
            Job.kind == notifications.COMMENT_KIND)) == 1
        await session.rollback()
    assert await queued(db_session) == 0
    assert await db_session.scalar(select(func.count()).select_from(Comment)) == 0
    assert await drain(app) == 0 and mailbox.messages == []
