"""Verified addresses as an owner and their readers meet them: the admin's setting (off,
optional, required), the link mailed at sign-up (site and API) to a real SMTP server, the
banner and its button, writing refused until the link is followed when it is required,
and a change of address that waits for the new address's link while the old one is told."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from quartblog.jobs import drain
from quartblog.models import Comment, EmailVerification, Job, Post, User
from quartblog.services import settings, verification
from quartblog.types import utcnow

from ..factories import PASSWORD, make_post, make_user
from ..mailbox import html_of, link_in, text_of
from .conftest import Browser

MODE = settings.EMAIL_VERIFICATION



@pytest.fixture
def app_config(mailbox):
    return {"SMTP_URL": mailbox.url, "SITE_URL": "http://blog.test", "MAIL_FROM": "Blog <blog@blog.test>"}


async def set_mode(db_session, mode: int) -> None:
    await settings.store(db_session, {MODE: mode})
    await db_session.commit()


async def fresh(db_session, model, **where):
    await db_session.rollback()  # a new transaction: what the requests committed since
    db_session.expire_all()
    return await db_session.scalar(select(model).filter_by(**where))


async def sign_up(client, name: str) -> tuple[Browser, object]:
    browser = Browser(client)
    await browser.get("/register")
    page = await browser.post("/register", {"username": name, "email": f"{name}@example.com",
                                            "password": PASSWORD}, follow=True)
    assert page.status == 200, page.text
    return browser, page


async def mails_to(app, mailbox, address: str, count: int = 1):
    await drain(app)
    await mailbox.wait_for(len(mailbox.messages))
    found = mailbox.to(address)
    assert len(found) == count, [(m["To"], m["Subject"]) for m in mailbox.messages]
    return found


async def follow_link(browser: Browser, message) -> object:
    path = link_in(message, "/verify-email/")
    page = await browser.get(path)
    assert page.status == 200 and "Confirm my address" in page.text, page.text
    return await browser.post(path, follow=True)


async def test_with_verification_off_sign_up_mails_nothing_and_writing_works(app, client, db_session, mailbox):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Hello")
    browser, page = await sign_up(client, "neo")
    assert 'id="verify-banner"' not in page.text
    api = await app.test_client().post("/api/users", json={"user": {
        "username": "api", "email": "api@example.com", "password": PASSWORD}})
    assert api.status_code == 201 and (await api.get_json())["user"]["emailVerified"] is False
    await drain(app)  # the post's announcement to subscribers (none) and nothing else
    assert mailbox.messages == []
    assert (await browser.post("/posts/hello/comments", {"body": "Nice"})).status == 303
    assert (await browser.get("/write")).status == 200


async def test_the_admin_chooses_the_mode_among_three(app, client, db_session, mailbox):
    from quartblog.models import Role

    await make_user(db_session, "root", Role.ADMIN)
    admin = Browser(client)
    await admin.log_in("root")
    page = await admin.get("/admin/settings")
    assert f'<select id="{MODE}" name="{MODE}">' in page.text
    assert page.text.count("<option ") == 3 and "Required: no posts or comments before verifying" in page.text
    assert (await admin.post("/admin/settings", {MODE: "2"})).status == 303
    assert await settings.get(db_session, MODE) == verification.REQUIRED
    assert '<option value="2" selected>' in (await admin.get("/admin/settings")).text
    refused = await admin.post("/admin/settings", {MODE: "5"})
    assert refused.status == 422 and "is not one of the choices" in refused.text
    await db_session.rollback()
    assert await settings.get(db_session, MODE) == verification.REQUIRED


async def test_optional_shows_a_banner_until_the_link_is_followed(app, client, db_session, mailbox):
    await set_mode(db_session, verification.OPTIONAL)
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Hello")
    browser, page = await sign_up(client, "neo")
    assert "A link to verify your address is on its way to neo@example.com" in page.text
    assert 'id="verify-banner"' in page.text and "Please verify your email address" in page.text
    # optional: writing and commenting work before verifying
    assert (await browser.post("/posts/hello/comments", {"body": "Nice"})).status == 303
    assert (await browser.get("/write")).status == 200

    [first] = await mails_to(app, mailbox, "neo@example.com")
    assert first["Subject"] == "Verify your email address" and first["From"] == "Blog <blog@blog.test>"
    assert "Hello neo," in text_of(first) and "48 hours" in text_of(first)
    assert f'href="http://blog.test{link_in(first, "/verify-email/")}"' in html_of(first)

    # the banner's button mails the link again (an hour's links are limited)
    resent = await browser.post("/verify-email/resend", follow=True)
    assert "A new link is on its way to neo@example.com" in resent.text
    _, second = await mails_to(app, mailbox, "neo@example.com", 2)
    assert link_in(second, "/verify-email/") != link_in(first, "/verify-email/")
    await browser.post("/verify-email/resend")
    limited = await browser.post("/verify-email/resend", follow=True)
    assert "Too many links were mailed to you in the last hour" in limited.text

    done = await follow_link(browser, second)
    assert "your email address is verified" in done.text and 'id="verify-banner"' not in done.text
    neo = await fresh(db_session, User, username="neo")
    assert neo.email_verified_at is not None and neo.email == "neo@example.com"
    # the link works once, and the account's other links are void
    assert (await browser.get(link_in(second, "/verify-email/"))).status == 404
    assert (await browser.get(link_in(first, "/verify-email/"))).status == 404
    assert (await Browser(app.test_client()).post(link_in(first, "/verify-email/"))).status == 404


async def test_required_refuses_posts_and_comments_until_verified_on_the_site(app, client, db_session, mailbox):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Hello")  # before verification was required
    await set_mode(db_session, verification.REQUIRED)
    browser, page = await sign_up(client, "neo")
    assert "Verify your email address to write posts and comments" in page.text

    write = await browser.get("/write")
    assert write.status == 403 and "Verify your email address first" in write.text
    assert 'action="/verify-email/resend' in write.text
    post_page = await browser.get("/posts/hello")
    assert 'id="verify-to-comment"' in post_page.text and 'class="card comment-form"' not in post_page.text
    refused = await browser.post("/posts/hello/comments", {"body": "Nice"})
    assert refused.status == 403 and "Verify your email address first" in refused.text
    created = await browser.post("/write", {"title": "Mine", "description": "", "body": "Text", "tags": "",
                                            "action": "publish"})
    assert created.status == 403
    assert await db_session.scalar(select(func.count()).select_from(Comment)) == 0
    assert await db_session.scalar(select(func.count()).select_from(Post)) == 1

    [message] = await mails_to(app, mailbox, "neo@example.com")
    await follow_link(Browser(app.test_client()), message)  # another browser, not signed in: the link is enough
    assert (await browser.post("/posts/hello/comments", {"body": "Nice"})).status == 303
    assert (await browser.get("/write")).status == 200
    assert 'id="verify-banner"' not in (await browser.get("/")).text


async def test_required_refuses_writing_on_the_api_with_the_contract_shape(app, client, db_session, mailbox):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Hello")  # before verification was required
    await set_mode(db_session, verification.REQUIRED)
    response = await client.post("/api/users", json={"user": {
        "username": "neo", "email": "neo@example.com", "password": PASSWORD}})
    assert response.status_code == 201
    user = (await response.get_json())["user"]
    assert user["emailVerified"] is False
    headers = {"Authorization": f"Token {user['token']}"}
    article = {"article": {"title": "Mine", "description": "d", "body": "b"}}
    refused = await client.post("/api/articles", headers=headers, json=article)
    assert refused.status_code == 403
    assert await refused.get_json() == {"errors": {"email": ["must be verified first"]}}
    comment = await client.post("/api/articles/hello/comments", headers=headers, json={"comment": {"body": "Hi"}})
    assert comment.status_code == 403 and (await comment.get_json())["errors"] == {"email": ["must be verified first"]}
    # unknown articles stay 404 (nothing said about them)
    assert (await client.post("/api/articles/nope/comments", headers=headers,
                              json={"comment": {"body": "Hi"}})).status_code == 404

    [message] = await mails_to(app, mailbox, "neo@example.com")
    await follow_link(Browser(app.test_client()), message)
    assert (await client.post("/api/articles", headers=headers, json=article)).status_code == 201
    comment = await client.post("/api/articles/hello/comments", headers=headers, json={"comment": {"body": "Hi"}})
    assert comment.status_code == 200
    me = await client.get("/api/user", headers=headers)
    assert (await me.get_json())["user"]["emailVerified"] is True


async def test_a_new_address_takes_effect_once_verified_and_the_old_one_is_told(app, client, db_session, mailbox):
    await set_mode(db_session, verification.OPTIONAL)
    alice = await make_user(db_session, "alice")
    alice.email_verified_at = utcnow()
    await db_session.commit()
    browser = Browser(client)
    await browser.log_in("alice")
    await browser.get("/settings")
    page = await browser.post("/settings", {"email": "Alice@New.example", "current_password": PASSWORD,
                                            "bio": "", "image": ""}, follow=True)
    assert page.status == 200
    assert "Your address stays alice@example.com until you follow the link we mailed to alice@new.example" in page.text
    assert 'id="pending-email"' in page.text
    alice = await fresh(db_session, User, username="alice")
    assert alice.email == "alice@example.com" and alice.email_verified_at is not None
    # saving the form again (it shows the address in use) leaves the change waiting
    again = await browser.post("/settings", {"email": "alice@example.com", "bio": "Hi", "image": ""}, follow=True)
    assert "Your settings are saved" in again.text and 'id="pending-email"' in again.text

    [message] = await mails_to(app, mailbox, "alice@new.example")
    assert message["Subject"] == "Confirm your new email address"
    assert "You asked to use alice@new.example" in text_of(message)
    # the settings page's button mails it again
    resent = await browser.post("/verify-email/resend?next=/settings", {"change": "1"}, follow=True)
    assert "A new link is on its way to alice@new.example" in resent.text
    _, again = await mails_to(app, mailbox, "alice@new.example", 2)

    done = await follow_link(browser, again)
    assert "Your email address is now alice@new.example" in done.text
    alice = await fresh(db_session, User, username="alice")
    assert alice.email == "alice@new.example" and alice.email_verified_at is not None
    [notice] = await mails_to(app, mailbox, "alice@example.com")
    assert notice["Subject"] == "Your email address was changed"
    assert "alice@new.example" in text_of(notice) and "/forgot-password" in text_of(notice)
    assert notice.get("List-Unsubscribe") is None  # about the account's safety: not something to stop
    assert (await browser.get(link_in(message, "/verify-email/"))).status == 404  # the first link is void
    fresh_login = await Browser(app.test_client()).post("/login", {"email": "alice@new.example", "password": PASSWORD})
    assert fresh_login.status == 303


async def test_the_api_changes_the_address_once_verified(app, client, db_session, mailbox):
    await set_mode(db_session, verification.REQUIRED)
    login = await client.post("/api/users", json={"user": {
        "username": "alice", "email": "alice@example.com", "password": PASSWORD}})
    headers = {"Authorization": f"Token {(await login.get_json())['user']['token']}"}
    changed = await client.put("/api/user", headers=headers, json={"user": {"email": "alice@new.example",
                                                                             "bio": "Hi"}})
    assert changed.status_code == 200
    body = (await changed.get_json())["user"]
    assert body["email"] == "alice@example.com" and body["bio"] == "Hi"
    await drain(app)
    await mailbox.wait_for(2)
    [message] = mailbox.to("alice@new.example")
    await follow_link(Browser(app.test_client()), message)
    me = await client.get("/api/user", headers=headers)
    assert (await me.get_json())["user"]["email"] == "alice@new.example"
    assert (await me.get_json())["user"]["emailVerified"] is True
    first, notice = await mails_to(app, mailbox, "alice@example.com", 2)  # the sign-up's link, then the notice
    assert first["Subject"] == "Verify your email address"
    assert notice["Subject"] == "Your email address was changed" and "alice@new.example" in text_of(notice)
    same = await client.put("/api/user", headers=headers, json={"user": {"email": "ALICE@new.example"}})
    assert same.status_code == 200 and await drain(app) == 0  # the same address: nothing to do


async def test_someone_taking_the_new_address_first_is_a_clear_refusal(app, client, db_session, mailbox):
    await set_mode(db_session, verification.OPTIONAL)
    await make_user(db_session, "alice")
    browser = Browser(client)
    await browser.log_in("alice")
    await browser.get("/settings")
    await browser.post("/settings", {"email": "shared@example.com", "current_password": PASSWORD})
    [message] = await mails_to(app, mailbox, "shared@example.com")
    await sign_up(app.test_client(), "shared")  # takes shared@example.com before alice follows her link

    path = link_in(message, "/verify-email/")
    await browser.get(path)
    refused = await browser.post(path)
    assert refused.status == 409
    assert "Email is used by another account now: your address was not changed" in refused.text
    alice = await fresh(db_session, User, username="alice")
    assert alice.email == "alice@example.com"
    assert mailbox.to("alice@example.com") == []  # nothing changed: nothing to tell


async def test_with_verification_off_a_change_is_immediate_and_the_old_address_is_told(app, client, db_session,
                                                                                         mailbox):
    await make_user(db_session, "alice")
    browser = Browser(client)
    await browser.log_in("alice")
    await browser.get("/settings")
    page = await browser.post("/settings", {"email": "alice@new.example", "current_password": PASSWORD},
                              follow=True)
    assert "Your settings are saved" in page.text and "Your address stays" not in page.text
    alice = await fresh(db_session, User, username="alice")
    assert alice.email == "alice@new.example" and alice.email_verified_at is None
    [notice] = await mails_to(app, mailbox, "alice@example.com")
    assert notice["Subject"] == "Your email address was changed"
    assert await db_session.scalar(select(func.count()).select_from(EmailVerification)) == 0
    assert await db_session.scalar(select(func.count()).select_from(Job).where(
        Job.kind == verification.MAIL_KIND)) == 0


async def test_a_race_for_the_address_at_the_moment_of_the_link_is_the_same_refusal(app, client, db_session, mailbox,
                                                                                    monkeypatch):
    """The other account commits its address between the check and the write: the unique key
    refuses the flush, and the answer is the same 409, not a 500."""
    await set_mode(db_session, verification.OPTIONAL)
    await make_user(db_session, "alice")
    browser = Browser(client)
    await browser.log_in("alice")
    await browser.get("/settings")
    await browser.post("/settings", {"email": "shared@example.com", "current_password": PASSWORD})
    [message] = await mails_to(app, mailbox, "shared@example.com")
    await make_user(db_session, "shared")  # shared@example.com
    path = link_in(message, "/verify-email/")
    await browser.get(path)

    async def not_seen(*args, **kwargs):
        return False  # as if the other account's commit came right after the check

    monkeypatch.setattr(verification.users, "email_taken", not_seen)
    refused = await browser.post(path)
    assert refused.status == 409 and "is used by another account now" in refused.text
    alice = await fresh(db_session, User, username="alice")
    assert alice.email == "alice@example.com"
