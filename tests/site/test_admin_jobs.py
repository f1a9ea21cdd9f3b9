"""Admin → Jobs: what waits and what failed, with the error, and the button that runs a
parked job again once the cause is mended (here: the mail server was down)."""

from __future__ import annotations

import re

import pytest

from quartblog.jobs import drain




@pytest.fixture
def app_config(mailbox):
    return {"SMTP_URL": mailbox.url, "JOB_MAX_ATTEMPTS": 2}


async def test_a_parked_job_shows_its_error_and_runs_again(app, as_user, people, mailbox):
    await mailbox.stop()
    visitor = await as_user(None)
    await visitor.post("/forgot-password", {"email": "ada@example.com"})
    await drain(app)  # two attempts, both refused: parked

    admin = await as_user("admin")
    page = await admin.get("/admin/jobs")
    assert page.status == 200
    assert "Password reset link" in page.text and "SMTPConnectError" in page.text
    assert "Failed: 1" in page.text

    await mailbox.start()
    [job_id] = re.findall(r"/admin/jobs/(\d+)/retry", page.text)
    done = await admin.post(f"/admin/jobs/{job_id}/retry", follow=True)
    assert "The job runs again." in done.text and "Failed: 0" in done.text
    assert await drain(app) == 1
    [message] = await mailbox.wait_for(1)
    assert message["To"] == "ada@example.com"
    assert "retry-job" in (await admin.get("/admin/audit")).text


@pytest.mark.parametrize("who", ["reader", "author"])
async def test_only_admins_see_the_jobs(as_user, who):
    browser = await as_user(who)
    assert (await browser.get("/admin/jobs")).status == 403
    assert (await browser.post("/admin/jobs/retry")).status == 403


async def test_the_admin_is_told_when_mail_is_not_configured(app, as_user):
    app.config["SMTP_URL"] = None
    admin = await as_user("admin")
    page = await admin.get("/admin/jobs")
    assert "No mail server is configured" in page.text
    app.config["ENV"] = "production"
    try:
        page = await admin.get("/admin/jobs")
    finally:
        app.config["ENV"] = "testing"
    assert "Mail is not configured (QUARTBLOG_SMTP_URL)" in page.text
