"""New posts by mail, as readers and the admin use it, against a real SMTP server: the
double opt-in (nothing before the link is followed), one message per post and
subscriber however often the post is saved or published again, a scheduled post's
mail when its time comes and not before, one-click unsubscribing with no cookie, the
admin's list, removal and CSV export; and nobody learns who subscribed."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from quartblog.jobs import drain
from quartblog.models import AuditEntry, Job, JobState, Post, Subscriber
from quartblog.services import new_posts, posts, subscriptions, users
from quartblog.types import utcnow

from ..conftest import TEST_SECRET
from ..factories import make_post, make_user
from ..mailbox import html_of, link_in, text_of
from .conftest import Browser

THANKS = "If this address is not subscribed yet, a message with a link to confirm is on its way."



@pytest.fixture
def app_config(mailbox):
    return {"SMTP_URL": mailbox.url, "SITE_URL": "http://blog.test", "MAIL_FROM": "Blog <blog@blog.test>"}


async def add_subscribers(session, count: int, *, confirmed: bool = True, start: int = 0, locale: str | None = None):
    now = utcnow()
    await session.execute(insert(Subscriber), [
        {"email": f"reader{n}@example.com", "locale": locale, "created_at": now,
         "confirmed_at": now if confirmed else None} for n in range(start, start + count)])
    await session.commit()


async def subscribe(client, email: str):
    browser = Browser(client)
    form = await browser.get("/subscribe")
    assert form.status == 200 and 'name="email"' in form.text
    return await browser.post("/subscribe", {"email": email}, follow=True)


async def publish(session, username: str, title: str, **fields):
    """A post by ``username`` (loaded afresh: ``fresh`` expires what the session held)."""
    author = await users.get_user_by_username(session, username)
    return await make_post(session, author, title, **fields)


async def author(session):
    return await users.get_user_by_username(session, "ada")


async def fresh(session):
    await session.rollback()
    session.expire_all()


def recipients(mailbox: Mailbox, subject_part: str = "New post") -> Counter:
    return Counter(str(m["To"]) for m in mailbox.messages if subject_part in str(m["Subject"]))


async def test_double_opt_in_then_one_click_unsubscribe(app, client, db_session, mailbox):
    await make_user(db_session, "alice")
    page = await subscribe(client, "Reader@Example.com")
    assert THANKS in page.text
    await publish(db_session, "alice", "Before confirming")
    await drain(app)
    [confirmation] = await mailbox.wait_for(1)
    assert confirmation["To"] == "reader@example.com"
    assert confirmation["Subject"] == "Confirm your subscription to quartblog"
    assert "List-Unsubscribe" not in confirmation
    assert recipients(mailbox) == Counter()  # nothing of posts before the link is followed

    path = link_in(confirmation, "/subscribe/confirm/")
    assert f'href="http://blog.test{path}"' in html_of(confirmation)
    confirmed = await Browser(app.test_client()).get(path)
    assert confirmed.status == 200 and "Your subscription is confirmed" in confirmed.text
    assert (await Browser(app.test_client()).get(path)).status == 200  # a second click: still fine
    assert (await Browser(app.test_client()).get(path[:-3] + "abc")).status == 404  # forged

    await publish(db_session, "alice", "After confirming", description="What it is about.")
    await drain(app)
    messages = await mailbox.wait_for(2)
    [message] = [m for m in messages if "New post" in str(m["Subject"])]
    assert message["Subject"] == "New post: After confirming" and message["To"] == "reader@example.com"
    assert "What it is about." in text_of(message) and "http://blog.test/posts/after-confirming" in text_of(message)
    assert 'href="http://blog.test/posts/after-confirming"' in html_of(message)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(message["List-Unsubscribe"]).strip("<>")
    assert unsubscribe.startswith("http://blog.test/unsubscribe/") and unsubscribe in text_of(message)
    path = unsubscribe.removeprefix("http://blog.test")

    shown = await Browser(app.test_client()).get(path)  # a mail scanner's GET changes nothing
    assert shown.status == 200 and "<button" in shown.text
    await fresh(db_session)
    assert await db_session.scalar(select(func.count()).select_from(Subscriber)) == 1

    provider = app.test_client()  # RFC 8058: a POST without cookies or CSRF token
    response = await provider.post(path, form={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    await fresh(db_session)
    assert await db_session.scalar(select(func.count()).select_from(Subscriber)) == 0
    again = await app.test_client().post(path, form={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200  # idempotent
    forged = await app.test_client().post(path[:-4] + "abcd", form={"List-Unsubscribe": "One-Click"})
    assert forged.status_code == 404

    await publish(db_session, "alice", "After leaving")
    await drain(app)
    assert recipients(mailbox) == Counter({"reader@example.com": 1})


async def test_the_form_says_the_same_whoever_subscribed(app, client, db_session, mailbox, monkeypatch):
    await add_subscribers(db_session, 1)  # reader0 is confirmed
    first = await subscribe(client, "reader0@example.com")
    other = await subscribe(app.test_client(), "new@example.com")
    assert THANKS in first.text and THANKS in other.text
    await drain(app)
    await mailbox.wait_for(1)
    assert [m["To"] for m in mailbox.messages] == ["new@example.com"]  # nothing to the confirmed one

    assert THANKS in (await subscribe(app.test_client(), "new@example.com")).text
    await drain(app)
    assert len(mailbox.messages) == 1  # asked again at once: one link in RESEND_SECONDS
    monkeypatch.setattr(subscriptions, "RESEND_SECONDS", 1e-6)  # ... and once they have passed
    await subscribe(app.test_client(), "new@example.com")
    await drain(app)
    await mailbox.wait_for(2)
    assert [m["To"] for m in mailbox.messages] == ["new@example.com"] * 2

    bad = await Browser(app.test_client()).post("/subscribe", {"email": "not an address"})
    assert bad.status == 422 and "is invalid" in bad.text


async def test_a_signed_in_reader_sees_and_ends_their_subscription(app, browser, db_session, mailbox):
    await make_user(db_session, "rita")
    await browser.log_in("rita")
    page = await browser.get("/subscribe")
    assert 'value="rita@example.com"' in page.text
    await browser.post("/subscribe", {"email": "rita@example.com"})
    assert "waits for you to follow the link" in (await browser.get("/subscribe")).text
    await db_session.execute(update(Subscriber).values(confirmed_at=utcnow()))
    await db_session.commit()
    assert "You are subscribed" in (await browser.get("/subscribe")).text
    await fresh(db_session)
    rita = await users.get_user_by_username(db_session, "rita")
    assert await subscriptions.state_of(db_session, rita) == subscriptions.CONFIRMED
    done = await browser.post("/subscribe/cancel", {}, follow=True)
    assert "You are unsubscribed" in done.text
    await fresh(db_session)
    rita = await users.get_user_by_username(db_session, "rita")
    assert await subscriptions.state_of(db_session, rita) == subscriptions.NONE


async def test_a_post_goes_once_to_every_confirmed_subscriber(app, db_session, mailbox, people):
    await add_subscribers(db_session, 30)
    await add_subscribers(db_session, 5, confirmed=False, start=100)
    await add_subscribers(db_session, 1, start=200, locale="zh_Hans")
    await publish(db_session, "ada", "Hello subscribers")
    await drain(app)
    await mailbox.wait_for(31)
    sent = recipients(mailbox, "Hello subscribers")  # the subject is "New post: ..." / "新文章：..."
    assert len(sent) == 31 and set(sent.values()) == {1}
    assert not any(f"reader{n}@example.com" in sent for n in range(100, 105))
    [chinese] = mailbox.to("reader200@example.com")
    assert chinese["Content-Language"] == "zh-Hans"

    # edited, unpublished and published again (its own new job): nobody gets it twice
    await posts.update_post(db_session, await author(db_session), "hello-subscribers", title="Hello again")
    await db_session.commit()
    await posts.update_post(db_session, await author(db_session), "hello-subscribers", status="draft")
    await db_session.commit()
    await posts.update_post(db_session, await author(db_session), "hello-subscribers", status="published")
    await db_session.commit()
    await drain(app)
    assert len(mailbox.messages) == 31
    await fresh(db_session)
    keys = (await db_session.scalars(select(Job.key).where(Job.kind == new_posts.KIND))).all()
    assert len(keys) == 2  # a job per publication

    # the admin's bulk publish of a draft is a publication too
    draft = await posts.create_post(db_session, await author(db_session), title="A draft", description=None, body="x", status="draft")
    await db_session.commit()
    admin = Browser(app.test_client())
    await admin.log_in("root")
    await admin.get("/admin/posts")
    await admin.post("/admin/posts/bulk", {"action": "publish", "ids": str(draft.post.id)})
    await drain(app)
    await mailbox.wait_for(62)
    assert len(recipients(mailbox, "A draft")) == 31


async def test_a_scheduled_post_is_mailed_when_its_time_comes(app, db_session, mailbox, people):
    await add_subscribers(db_session, 3)
    later = utcnow() + timedelta(days=1)
    await posts.create_post(db_session, await author(db_session), title="Tomorrow", description=None, body="Soon.",
                            status="scheduled", publish_at=later)
    await db_session.commit()
    assert await drain(app) == 0  # its time has not come
    await posts.update_post(db_session, await author(db_session), "tomorrow", publish_at=later + timedelta(hours=2))  # rescheduled
    await db_session.commit()
    assert await drain(app) == 0 and mailbox.messages == []

    # the time comes: move the post and its publication's jobs into the past
    await fresh(db_session)
    jobs = (await db_session.scalars(select(Job).where(Job.kind == new_posts.KIND).order_by(Job.id))).all()
    assert [j.state for j in jobs] == [JobState.PENDING, JobState.PENDING]
    assert jobs[0].run_at == later
    past = utcnow() - timedelta(minutes=1)
    for n, job in enumerate(jobs):
        when = past - timedelta(minutes=5 * (1 - n))
        payload = {**json.loads(job.payload), "published_at": new_posts.publish_time(when)}
        await db_session.execute(update(Job).where(Job.id == job.id).values(run_at=when, payload=json.dumps(payload)))
        if n == 1:  # the post's time is the second job's
            await db_session.execute(update(Post).where(Post.slug == "tomorrow").values(published_at=when))
    await db_session.commit()
    await drain(app)
    await mailbox.wait_for(3)
    assert recipients(mailbox) == Counter({f"reader{n}@example.com": 1 for n in range(3)})
    await drain(app)
    assert len(mailbox.messages) == 3


async def test_the_admin_lists_searches_removes_and_exports(app, db_session, people, as_user):
    await add_subscribers(db_session, 55)
    await add_subscribers(db_session, 2, confirmed=False, start=900)
    admin = await as_user("admin")
    page = await admin.get("/admin/subscribers")
    assert page.status == 200 and "57 in all" in page.text and "reader56@example.com" not in page.text
    assert "reader900@example.com" in page.text and "/admin/subscribers.csv" in page.text
    second = await admin.get("/admin/subscribers?page=2")
    assert "reader0@example.com" in second.text
    found = await admin.get("/admin/subscribers?q=READER90")
    assert "2 in all" in found.text and "reader900@example.com" in found.text

    target = await db_session.scalar(select(Subscriber.id).where(Subscriber.email == "reader3@example.com"))
    done = await admin.post(f"/admin/subscribers/{target}/delete", {}, follow=True)
    assert done.status == 200 and "reader3@example.com is no longer subscribed" in done.text
    await fresh(db_session)
    assert await db_session.scalar(select(func.count()).select_from(Subscriber)) == 56
    assert await db_session.scalar(select(AuditEntry.action).where(AuditEntry.target == "reader3@example.com")) \
        == "subscriber.remove"
    assert (await admin.post(f"/admin/subscribers/{target}/delete", {})).status == 404

    response = await admin.client.get("/admin/subscribers.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(await response.get_data(as_text=True))))
    assert rows[0] == list(subscriptions.EXPORT_COLUMNS)
    assert len(rows) == 57 and rows[1][0] == "reader0@example.com" and rows[1][1]
    assert sum(1 for row in rows[1:] if not row[1]) == 2  # not confirmed yet


@pytest.mark.parametrize("who", ["anonymous", "reader", "author"])
async def test_only_an_admin_sees_or_touches_the_subscribers(app, db_session, people, as_user, who):
    await add_subscribers(db_session, 1)
    target = await db_session.scalar(select(Subscriber.id))
    browser = await as_user(None if who == "anonymous" else who)
    for url in ("/admin/subscribers", "/admin/subscribers.csv"):
        page = await browser.get(url, follow=False)
        assert page.status == (303 if who == "anonymous" else 403) or page.status == 302, (url, page.status)
    await browser.get("/login")
    refused = await browser.post(f"/admin/subscribers/{target}/delete", {})
    assert refused.status in (302, 303, 403)
    await fresh(db_session)
    assert await db_session.scalar(select(func.count()).select_from(Subscriber)) == 1


def test_links_are_signed_for_their_purpose():
    token = subscriptions.unsubscribe_token(TEST_SECRET, 1, "a@example.com")
    assert subscriptions.unsubscribe_link_valid(TEST_SECRET, token)
    assert not subscriptions.unsubscribe_link_valid("another-secret-key-long-enough-0123456789", token)
    assert not subscriptions.unsubscribe_link_valid(TEST_SECRET, subscriptions.confirm_token(TEST_SECRET, 1, "a@example.com"))
