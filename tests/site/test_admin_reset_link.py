"""The admin sends a user a link to choose a new password (the users page's button): the
mail arrives at a real SMTP server and its link works; and the admin's pages say so when
production has no mail server to send it with."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from quartblog.jobs import drain
from quartblog.models import AuditEntry, PasswordReset, User

from ..factories import PASSWORD
from ..mailbox import link_in, text_of
from .conftest import Browser

NEW_PASSWORD = "a brand new passphrase"
BANNER = "Mail is not configured (QUARTBLOG_SMTP_URL): password reset links and notifications cannot be sent."
ADMIN_PAGES = ("/admin/users", "/admin/posts", "/admin/comments", "/admin/tags", "/admin/settings", "/admin/jobs",
               "/admin/audit")


def reset_form(page_text: str, username: str) -> str:
    """The action of the users page's "Send reset link" form for ``username``."""
    match = re.search(r'action="(/admin/users/' + re.escape(username) + r'/password-reset[^"]*)"', page_text)
    assert match, f"no reset button for {username}"
    return match.group(1).replace("&amp;", "&")


@pytest.fixture
def app_config(mailbox):
    return {"SMTP_URL": mailbox.url, "SITE_URL": "http://blog.test", "MAIL_FROM": "Blog <blog@blog.test>"}


async def test_the_button_mails_the_user_a_working_link(app, as_user, people, new_browser, db_session, mailbox):
    root = await as_user("admin")
    rita = await as_user("reader")
    users_page = await root.get("/admin/users")
    assert users_page.status == 200 and "Send reset link" in users_page.text
    assert BANNER not in users_page.text

    done = await root.post(reset_form(users_page.text, "rita"), follow=True)
    assert done.status == 200
    assert "A link to choose a new password is on its way to rita (rita@example.com)." in done.text

    assert await drain(app) == 1
    [message] = await mailbox.wait_for(1)
    assert message["To"] == "rita@example.com" and message["Subject"] == "Reset your password"
    assert "Hello rita," in text_of(message)
    path = link_in(message, "/reset-password/")

    browser = new_browser()
    form = await browser.get(path)
    assert form.status == 200 and "Choose a new password" in form.text
    changed = await browser.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}, follow=True)
    assert changed.status == 200 and "Your password is changed" in changed.text
    assert (await rita.get("/settings", follow=False)).status in (302, 303)  # her other browser is signed out
    old = await new_browser().post("/login", {"email": "rita@example.com", "password": PASSWORD})
    assert old.status == 422
    new = await new_browser().post("/login", {"email": "rita@example.com", "password": NEW_PASSWORD})
    assert new.status == 303

    audit = await root.get("/admin/audit")
    assert "user.password_reset" in audit.text and "user:rita" in audit.text


@pytest.mark.parametrize("who", ["reader", "author"])
async def test_others_cannot_send_links(app, as_user, people, db_session, mailbox, who):
    browser = await as_user(who)
    for target in ("rita", "nobody"):
        page = await browser.post(f"/admin/users/{target}/password-reset")
        assert page.status == 403
    anonymous = await as_user(None)
    page = await anonymous.post("/admin/users/rita/password-reset")
    assert page.status == 302 and page.location.startswith("/login")
    assert await drain(app) == 0
    assert await db_session.scalar(select(func.count()).select_from(PasswordReset)) == 0


async def test_no_link_for_a_disabled_account(app, as_user, people, db_session, mailbox):
    await db_session.execute(update(User).where(User.username == "otto").values(disabled=True))
    await db_session.commit()
    root = await as_user("admin")
    users_page = await root.get("/admin/users")
    assert "/admin/users/otto/password-reset" not in users_page.text
    assert "/admin/users/ada/password-reset" in users_page.text
    refused = await root.post("/admin/users/otto/password-reset", follow=True)
    assert "No link was sent to otto: a disabled account gets no reset link: enable it first." in refused.text
    unknown = await root.post("/admin/users/nobody/password-reset")
    assert unknown.status == 404
    assert await drain(app) == 0
    await db_session.rollback()
    assert await db_session.scalar(select(func.count()).select_from(PasswordReset)) == 0
    assert await db_session.scalar(select(func.count()).select_from(AuditEntry)) == 0


class HttpsClient:
    """The test client over https (production's cookies are Secure)."""

    def __init__(self, client) -> None:
        self.client = client

    async def get(self, url, **kwargs):
        return await self.client.get(url, scheme="https", **kwargs)

    async def post(self, url, **kwargs):
        return await self.client.post(url, scheme="https", **kwargs)


PRODUCTION = {"ENV": "production", "SITE_URL": "https://blog.example.com"}  # SECRET_KEY: the tests' long one


@pytest.mark.parametrize("app_config, shown", [
    (PRODUCTION, True),
    ({**PRODUCTION, "SMTP_URL": "smtp://mail.example.com:587?starttls=1"}, False),
    ({}, False),  # development and testing write mail to files
    ({"ENV": "development"}, False),
], ids=["production without SMTP", "production with SMTP", "testing", "development"])
async def test_the_admin_warns_when_production_cannot_send_mail(app, people, app_config, shown):
    root = Browser(HttpsClient(app.test_client()))
    await root.log_in("root")
    for path in ADMIN_PAGES:
        page = await root.get(path)
        assert page.status == 200, path
        assert page.text.count(BANNER) == int(shown), path
    assert BANNER not in (await root.get("/")).text  # the admin's pages only
    reader = Browser(HttpsClient(app.test_client()))
    await reader.log_in("rita")
    assert BANNER not in (await reader.get("/")).text
    assert (await reader.get("/admin/users")).status == 403
