"""A way back into a locked account, as a person uses it: "Forgot password?" on the log-in
page, the mail that arrives at a real SMTP server, the link, the new password; and what
the link must not do (tell who has an account, work twice, outlive its hour)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from quartblog.jobs import drain
from quartblog.models import Job, PasswordReset, SignIn

from ..conftest import TEST_SECRET
from ..factories import PASSWORD, make_user
from ..mailbox import html_of, link_in, text_of
from .conftest import Browser

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def app_config(mailbox):
    return {"SMTP_URL": mailbox.url, "SITE_URL": "http://blog.test", "MAIL_FROM": "Blog <blog@blog.test>"}


async def ask_for_link(client, email: str):
    browser = Browser(client)
    await browser.get("/login")
    page = await browser.get("/forgot-password")
    assert page.status == 200
    return await browser.post("/forgot-password", {"email": email}, follow=True)


async def test_forgot_password_mails_a_link_that_sets_a_new_password(app, client, db_session, mailbox):
    alice = await make_user(db_session, "alice")
    other_browser = Browser(app.test_client())
    await other_browser.log_in("alice")
    api = app.test_client()
    login = await api.post("/api/users/login", json={"user": {"email": "alice@example.com", "password": PASSWORD}})
    token = (await login.get_json())["user"]["token"]

    login_page = await Browser(client).get("/login")
    assert "/forgot-password" in login_page.text
    page = await ask_for_link(client, "Alice@Example.com")
    assert "a link to choose a new password is on its way" in page.text

    assert await drain(app) == 1
    [message] = await mailbox.wait_for(1)
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "Reset your password"
    assert message["From"] == "Blog <blog@blog.test>"
    assert message["Message-ID"] and message["Date"]
    assert message["Content-Language"] == "en"
    assert "Hello alice," in text_of(message) and "60 minutes" in text_of(message)
    path = link_in(message, "/reset-password/")
    assert f'href="http://blog.test{path}"' in html_of(message)
    secret = path.rpartition(".")[2]
    stored = (await db_session.scalars(select(PasswordReset.secret_hash))).all()
    assert len(stored) == 1 and secret not in stored[0]  # only a hash is kept

    browser = Browser(client)
    form = await browser.get(path)
    assert form.status == 200 and "Choose a new password" in form.text
    mismatch = await browser.post(path, {"password": NEW_PASSWORD, "password_again": "something else"})
    assert mismatch.status == 422 and "not the same" in mismatch.text
    done = await browser.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}, follow=True)
    assert done.status == 200 and "Your password is changed" in done.text
    assert "alice" in (await browser.get("/settings")).text  # signed in with the new password

    # every other browser is signed out, every API token revoked, the old password refused
    assert (await other_browser.get("/settings", follow=False)).status in (302, 303)
    refused = await api.get("/api/user", headers={"Authorization": f"Token {token}"})
    assert refused.status_code == 401
    assert await db_session.scalar(select(func.count()).select_from(SignIn).where(SignIn.user_id == alice.id)) == 1
    old = await Browser(app.test_client()).post("/login", {"email": "alice@example.com", "password": PASSWORD})
    assert old.status == 422
    new = await Browser(app.test_client()).post("/login", {"email": "alice@example.com", "password": NEW_PASSWORD})
    assert new.status == 303

    # the link works once
    again = await Browser(app.test_client()).get(path)
    assert again.status == 404 and "Ask for a new link" in again.text
    reuse = await Browser(app.test_client()).post(path, {"password": "yet another one!", "password_again": "yet another one!"})
    assert reuse.status == 422


async def test_the_answer_is_the_same_for_an_unknown_address(app, client, db_session, mailbox):
    await make_user(db_session, "alice")
    known = await ask_for_link(client, "alice@example.com")
    unknown = await ask_for_link(app.test_client(), "nobody@example.com")
    assert known.status == unknown.status == 200

    def flash(text: str) -> str:
        return text[text.index('class="flash'):][:300]

    assert flash(known.text) == flash(unknown.text)
    await drain(app)
    await mailbox.wait_for(1)
    assert [m["To"] for m in mailbox.messages] == ["alice@example.com"]


async def test_links_per_account_are_limited_and_a_bad_address_is_a_form_error(app, client, db_session, mailbox):
    await make_user(db_session, "alice")
    for _ in range(5):
        page = await ask_for_link(client, "alice@example.com")
        assert page.status == 200
    await drain(app)
    await mailbox.wait_for(3)
    assert len(mailbox.messages) == 3  # PASSWORD_RESETS_PER_HOUR
    bad = await Browser(client).post("/forgot-password", {"email": "not an address\x00"})
    assert bad.status == 422


async def test_an_expired_or_forged_link_is_refused(app, client, db_session, mailbox):
    await make_user(db_session, "alice")
    await ask_for_link(client, "alice@example.com")
    await drain(app)
    [message] = await mailbox.wait_for(1)
    path = link_in(message, "/reset-password/")
    forged = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    assert (await Browser(client).get(forged)).status == 404
    assert (await Browser(client).get("/reset-password/nonsense")).status == 404
    reset = await db_session.scalar(select(PasswordReset))
    reset.expires_at = reset.created_at
    await db_session.commit()
    assert (await Browser(client).get(path)).status == 404


async def test_a_rolled_back_request_queues_no_mail(app, client, db_session):
    """The job is written in the request's transaction: a request that fails after
    queueing it (here: the database refuses the commit's work) leaves no job behind."""
    from quartblog.db import get_db
    from quartblog.services import password_resets

    await make_user(db_session, "alice")
    async with get_db(app).session() as session:
        await password_resets.request_reset(session, "alice@example.com", secret_key=TEST_SECRET,
                                            lifetime=3600, per_hour=3)
        assert await session.scalar(select(func.count()).select_from(Job)) == 1  # inside the transaction
        await session.rollback()
    assert await db_session.scalar(select(func.count()).select_from(Job)) == 0
    assert await db_session.scalar(select(func.count()).select_from(PasswordReset)) == 0


async def test_the_mail_is_in_the_language_of_the_page(app, client, db_session, mailbox):
    await make_user(db_session, "alice")
    browser = Browser(client)
    await browser.get("/language/zh-Hans")
    await browser.post("/forgot-password", {"email": "alice@example.com"})
    await drain(app)
    [message] = await mailbox.wait_for(1)
    assert message["Content-Language"] == "zh-Hans"
    assert message["Subject"] == "重置你的密码"
    assert "你好" in text_of(message)
