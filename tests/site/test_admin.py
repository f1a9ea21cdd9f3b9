"""Moderation and the admin on the site: who may do what (every role, a disabled
account too), what readers see, refused actions that change nothing, the audit log."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select, update

from quartblog.models import (
    AuditEntry, Comment, CommentState, PasswordReset, Post, PostStatus, Role, Tag, User, post_tags)
from quartblog.services import comments, posts, settings

from ..factories import make_post, make_user

ROLES = ["anonymous", "reader", "author", "other", "admin", "disabled"]  # "author" wrote the post


async def _count(db_session, model, *where) -> int:
    await db_session.rollback()  # a new snapshot: what the requests committed
    return await db_session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
async def blog(db_session, people):
    """The author's post (tagged) and draft, the reader's comment on the post, a comment
    of otto's held for approval, an unused tag, and dina, whose account gets disabled."""
    people["disabled"] = await make_user(db_session, "dina")
    await make_post(db_session, people["author"], "The post", tags=["old", "keep"])
    await posts.create_post(db_session, people["author"], title="Ada's draft", description=None,
                            body="Not out yet.", status="draft")
    await make_post(db_session, people["other"], "Otto's post", tags=["keep"])
    shown = await comments.add_comment(db_session, people["reader"], "the-post", "Hello from Rita")
    held = await comments.add_comment(db_session, people["other"], "the-post", "Held one")
    held.comment.state = CommentState.PENDING
    db_session.add(Tag(name="unused"))
    await db_session.commit()
    return {"shown": shown.comment.id, "held": held.comment.id}


NAMES = {"reader": "rita", "author": "ada", "other": "otto", "admin": "root", "disabled": "dina"}


@pytest.fixture
def as_role(new_browser, people, db_session):
    """A browser for a role; "disabled" signs in as dina, whose account is then disabled."""

    async def open_as(who: str):
        browser = new_browser()
        if who == "anonymous":
            return browser
        await browser.log_in(NAMES[who])
        if who == "disabled":
            await db_session.rollback()
            await db_session.execute(update(User).where(User.username == "dina").values(disabled=True))
            await db_session.commit()
        return browser

    return open_as


def _action(url, form=None, *, check, allowed, unseen_by=()):
    """``unseen_by``: those who may not see the object (someone else's held comment): 404."""
    return {"url": url, "form": form or {}, "check": check, "allowed": allowed, "unseen_by": unseen_by}


async def _state(db_session, comment_id):
    await db_session.rollback()
    return await db_session.scalar(select(Comment.state).where(Comment.id == comment_id))


MODERATORS = {"author", "admin"}
ADMINS = {"admin"}
ACTIONS = {
    "hide comment": _action("/posts/the-post/comments/{shown}/hide", allowed=MODERATORS,
                            check=lambda db, ids: _state(db, ids["shown"]), ),
    "approve comment": _action("/posts/the-post/comments/{held}/approve", allowed=MODERATORS,
                               check=lambda db, ids: _state(db, ids["held"]), unseen_by={"reader"}),
    "delete rita's comment": _action("/posts/the-post/comments/{shown}/delete", allowed=MODERATORS | {"reader"},
                                     check=lambda db, ids: _count(db, Comment, Comment.id == ids["shown"])),
    "queue: approve": _action("/admin/comments/{held}/approve", allowed=ADMINS,
                              check=lambda db, ids: _state(db, ids["held"])),
    "queue: delete": _action("/admin/comments/{shown}/delete", allowed=ADMINS,
                             check=lambda db, ids: _count(db, Comment, Comment.id == ids["shown"])),
    "disable user": _action("/admin/users/otto/disable", allowed=ADMINS,
                            check=lambda db, ids: _count(db, User, User.username == "otto", User.disabled.is_(True))),
    "send reset link": _action("/admin/users/otto/password-reset", allowed=ADMINS,
                               check=lambda db, ids: _count(db, PasswordReset)),
    "delete user": _action("/admin/users/otto/delete", {"posts": "delete"}, allowed=ADMINS,
                           check=lambda db, ids: _count(db, User)),
    "bulk publish posts": _action("/admin/posts/bulk", {"action": "publish", "ids": "{draft}"}, allowed=ADMINS,
                                  check=lambda db, ids: _count(db, Post, Post.status == PostStatus.PUBLISHED)),
    "bulk unpublish posts": _action("/admin/posts/bulk", {"action": "unpublish", "ids": "{post}"}, allowed=ADMINS,
                                    check=lambda db, ids: _count(db, Post, Post.status == PostStatus.PUBLISHED)),
    "bulk delete posts": _action("/admin/posts/bulk", {"action": "delete", "ids": "{post}"}, allowed=ADMINS,
                                 check=lambda db, ids: _count(db, Post)),
    "rename tag": _action("/admin/tags/old/rename", {"name": "new"}, allowed=ADMINS,
                          check=lambda db, ids: _count(db, Tag, Tag.name == "new")),
    "merge tags": _action("/admin/tags/old/merge", {"into": "keep"}, allowed=ADMINS,
                          check=lambda db, ids: _count(db, Tag)),
    "delete unused tags": _action("/admin/tags/delete-unused", allowed=ADMINS,
                                  check=lambda db, ids: _count(db, Tag)),
    "change settings": _action("/admin/settings", {settings.HOLD_DAYS: "3"}, allowed=ADMINS,
                               check=lambda db, ids: _count(db, AuditEntry)),
}


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("name", list(ACTIONS))
async def test_permission_matrix(name, who, as_role, blog, db_session):
    action = ACTIONS[name]
    ids = dict(blog, post=await db_session.scalar(select(Post.id).where(Post.slug == "the-post")),
               draft=await db_session.scalar(select(Post.id).where(Post.slug == "ada-s-draft")))
    before = await action["check"](db_session, ids)
    browser = await as_role(who)
    form = {k: v.format(**ids) for k, v in action["form"].items()}
    page = await browser.post(action["url"].format(**ids), form)
    after = await action["check"](db_session, ids)
    if who in ("anonymous", "disabled"):  # a disabled account is signed out
        assert page.status == 302 and page.location.startswith("/login"), page.status
    elif who in action["allowed"]:
        assert page.status == 303, page.text
        assert after != before
        return
    else:
        assert page.status == (404 if who in action["unseen_by"] else 403), page.status
    assert after == before


@pytest.mark.parametrize("who, status", [("reader", 403), ("author", 403), ("admin", 200)])
async def test_only_admins_open_the_admin_pages(who, status, as_role, blog):
    browser = await as_role(who)
    for path in ("/admin/users", "/admin/posts", "/admin/comments", "/admin/tags", "/admin/settings",
                 "/admin/audit"):
        assert (await browser.get(path)).status == status, path


async def test_readers_do_not_see_hidden_or_held_comments_moderators_see_them_marked(as_role, blog, db_session):
    await db_session.execute(update(Comment).where(Comment.id == blog["shown"]).values(state=CommentState.HIDDEN))
    await db_session.commit()
    for who in ("anonymous", "reader"):
        text = (await (await as_role(who)).get("/posts/the-post")).text
        assert "Hello from Rita" not in text and "Held one" not in text, who
        assert "0 comments" in text
    assert "0 comments" in (await (await as_role("anonymous")).get("/users/ada")).text  # lists count the same
    # otto wrote the held comment: he sees it, waiting; not Rita's hidden one.
    text = (await (await as_role("other")).get("/posts/the-post")).text
    assert "Held one" in text and "Waiting for approval" in text and "Hello from Rita" not in text
    for who in ("author", "admin"):
        text = (await (await as_role(who)).get("/posts/the-post")).text
        assert "Hello from Rita" in text and "Hidden from readers" in text, who
        assert "Held one" in text and "Waiting for approval" in text, who
        assert f"/posts/the-post/comments/{blog['held']}/approve" in text


async def test_new_accounts_are_held_by_the_setting_and_approved_from_the_queue(as_role, blog, db_session, people):
    admin_browser = await as_role("admin")
    page = await admin_browser.post("/admin/settings", {settings.HOLD_DAYS: "7"})
    assert page.status == 303
    reader = await as_role("reader")
    await reader.post("/posts/the-post/comments", {"body": "New here"})
    # the post's author and an admin are never held
    author = await as_role("author")
    await author.post("/posts/the-post/comments", {"body": "Author reply"})
    anonymous_page = (await (await as_role("anonymous")).get("/posts/the-post")).text
    assert "Author reply" in anonymous_page and "New here" not in anonymous_page
    queue = await admin_browser.get("/admin/comments")
    assert "New here" in queue.text and "Held one" in queue.text
    new_id = await db_session.scalar(select(Comment.id).where(Comment.body == "New here"))
    await admin_browser.post(f"/admin/comments/{new_id}/approve")
    assert "New here" in (await (await as_role("anonymous")).get("/posts/the-post")).text
    # an account older than the setting is not held
    await db_session.rollback()
    await db_session.execute(update(User).where(User.username == "rita")
                             .values(created_at=datetime(2020, 1, 1, tzinfo=timezone.utc)))
    await db_session.commit()
    await reader.post("/posts/the-post/comments", {"body": "Old timer"})
    assert await _state(db_session, await db_session.scalar(
        select(Comment.id).where(Comment.body == "Old timer"))) == CommentState.PUBLISHED


@pytest.mark.parametrize("form, message", [
    ({"moderation.hold_new_accounts_days": "x"}, "must be a whole number"),
    ({"moderation.hold_new_accounts_days": "-1"}, "must be between 0 and 3650"),
])
async def test_bad_settings_are_refused_and_nothing_is_saved(form, message, as_role, blog, db_session):
    page = await (await as_role("admin")).post("/admin/settings", form)
    assert page.status == 422 and message in page.text
    assert await _count(db_session, AuditEntry) == 0


@pytest.mark.parametrize("url, form, message", [
    ("/admin/tags/old/merge", {"into": "old"}, "cannot be merged into itself"),
    ("/admin/tags/old/merge", {"into": "nothing"}, "no tag has this name"),
    ("/admin/tags/old/rename", {"name": "keep"}, "merge them instead"),
    ("/admin/tags/old/rename", {"name": "  "}, "can&#39;t be blank"),
    ("/admin/users/root/disable", {}, "cannot disable your own account"),
    ("/admin/users/root/delete", {"posts": "keep"}, "from your settings"),
    ("/admin/users/ada/delete", {"posts": "maybe"}, "must be &#39;keep&#39; or &#39;delete&#39;"),
    ("/admin/users/root/role", {"role": "reader"}, "the last admin cannot step down"),
    ("/admin/posts/bulk", {"action": "delete"}, "choose at least one post"),
    ("/admin/posts/bulk", {"action": "burn", "ids": "1"}, "is not a known action"),
])
async def test_bad_admin_input_changes_nothing(url, form, message, as_role, blog, db_session):
    counts = [await _count(db_session, m) for m in (User, Post, Tag, Comment, post_tags, AuditEntry)]
    page = await (await as_role("admin")).post(url, form, follow=True)
    assert message in page.text
    assert counts == [await _count(db_session, m) for m in (User, Post, Tag, Comment, post_tags, AuditEntry)]
    assert await _count(db_session, User, User.disabled.is_(True)) == 0
    assert await _count(db_session, User, User.role == Role.ADMIN) == 1


async def test_merging_tags_keeps_one_tag_per_post(as_role, blog, db_session):
    page = await (await as_role("admin")).post("/admin/tags/old/merge", {"into": "keep"}, follow=True)
    assert "was merged into" in page.text
    names = (await db_session.execute(
        select(Post.slug, Tag.name).join(post_tags, post_tags.c.post_id == Post.id)
        .join(Tag, Tag.id == post_tags.c.tag_id).order_by(Post.slug, Tag.name))).all()
    assert names == [("otto-s-post", "keep"), ("the-post", "keep")]


@pytest.mark.parametrize("choice", ["keep", "delete"])
async def test_an_admin_deletes_an_account_keeping_or_deleting_its_posts(choice, as_role, blog, db_session):
    admin_browser = await as_role("admin")
    page = await admin_browser.post("/admin/users/ada/delete", {"posts": choice}, follow=True)
    assert "is deleted" in page.text
    assert await _count(db_session, User, User.username == "ada") == 0
    post = await (await as_role("anonymous")).get("/posts/the-post")
    if choice == "keep":
        assert post.status == 200 and "deleted-user" in post.text and "Hello from Rita" in post.text
    else:
        assert post.status == 404
        assert await _count(db_session, Comment, Comment.body == "Hello from Rita") == 0
    audit = await admin_browser.get("/admin/audit")
    assert "user.delete" in audit.text and "user:ada" in audit.text and f"posts: {choice}" in audit.text


async def test_a_disabled_account_cannot_sign_in_and_is_signed_out(as_role, blog, db_session, new_browser):
    dina = await as_role("disabled")
    page = await dina.get("/settings", follow=False)
    assert page.status == 302 and page.location.startswith("/login")
    again = new_browser()
    await again.get("/login")
    refused = await again.post("/login", {"email": "dina@example.com", "password": "correct horse battery"})
    assert refused.status == 422
    admin_browser = await as_role("admin")
    await admin_browser.post("/admin/users/dina/enable")
    await again.log_in("dina")


@pytest.mark.parametrize("choice", ["keep", "delete"])
async def test_people_delete_their_own_account_after_typing_their_password(choice, as_role, blog, db_session):
    ada = await as_role("author")
    wrong = await ada.post("/settings/delete", {"posts": choice, "delete_password": "not it"})
    assert wrong.status == 422 and "is wrong" in wrong.text
    assert await _count(db_session, User, User.username == "ada") == 1
    done = await ada.post("/settings/delete", {"posts": choice, "delete_password": "correct horse battery"})
    assert done.status == 303
    assert await _count(db_session, User, User.username == "ada") == 0
    assert await _count(db_session, Post, Post.slug == "the-post") == (1 if choice == "keep" else 0)
    assert (await ada.get("/settings", follow=False)).status == 302  # signed out


async def test_the_last_admin_cannot_delete_their_account(as_role, blog, db_session):
    root = await as_role("admin")
    page = await root.post("/settings/delete", {"posts": "keep", "delete_password": "correct horse battery"})
    assert page.status == 422 and "the last admin cannot step down" in page.text.lower()
    assert await _count(db_session, User, User.username == "root") == 1


async def test_admin_lists_are_paged_and_filtered(as_role, blog, db_session):
    root = await as_role("admin")
    posts = await root.get("/admin/posts?author=otto")
    assert "Otto&#39;s post" in posts.text and "The post" not in posts.text
    assert "Otto&#39;s post" not in (await root.get("/admin/posts?tag=old")).text
    assert "The post" in (await root.get("/admin/posts?q=the")).text
    users = await root.get("/admin/users?q=rit")
    assert "rita" in users.text and "otto" not in users.text
    tags = await root.get("/admin/tags")
    assert "unused" in tags.text


async def test_every_admin_action_is_in_the_audit_log(as_role, blog, db_session):
    root = await as_role("admin")
    await root.post("/admin/users/rita/role", {"role": "author"})
    await root.post("/admin/users/otto/disable")
    await root.post(f"/admin/comments/{blog['held']}/approve")
    await root.post("/admin/tags/old/rename", {"name": "older"})
    entries = (await db_session.execute(select(AuditEntry.actor_name, AuditEntry.action, AuditEntry.target)
                                        .order_by(AuditEntry.id))).all()
    assert entries == [("root", "user.role", "user:rita"), ("root", "user.disable", "user:otto"),
                       ("root", "comment.approve", f"comment:{blog['held']}"), ("root", "tag.rename", "tag:old")]
    page = await root.get("/admin/audit")
    assert page.text.index("tag:old") < page.text.index("user:rita")  # newest first


async def _bulk(browser, action: str, ids: list[str]):
    """The posts page's form with several posts ticked (one ``ids`` field each)."""
    body = urlencode({"action": action, "ids": ids, "csrf_token": await browser.token()}, doseq=True)
    response = await browser.client.post("/admin/posts/bulk", data=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 303
    return await browser.get(response.headers["Location"])


async def _post_ids(db_session, *slugs) -> list[str]:
    await db_session.rollback()
    return [str(await db_session.scalar(select(Post.id).where(Post.slug == slug))) for slug in slugs]


async def test_bulk_publish_puts_drafts_in_the_public_lists_and_unpublish_takes_them_out(as_role, blog, db_session,
                                                                                         people):
    scheduled = await posts.create_post(db_session, people["other"], title="Otto's next one", description=None,
                                        body="Soon.", status="scheduled",
                                        publish_at=datetime(2999, 1, 1, tzinfo=timezone.utc))
    await db_session.commit()
    old_time = await db_session.scalar(select(Post.published_at).where(Post.slug == "the-post"))
    anonymous = await as_role("anonymous")
    home = (await anonymous.get("/")).text
    assert "Ada&#39;s draft" not in home and "Otto&#39;s next one" not in home and "The post" in home

    root = await as_role("admin")
    ids = await _post_ids(db_session, "ada-s-draft", scheduled.post.slug, "the-post")
    page = await _bulk(root, "publish", ids)
    assert "2 posts done." in page.text  # the post already out is left as it was
    home = (await anonymous.get("/")).text
    assert "Ada&#39;s draft" in home and "Otto&#39;s next one" in home and "The post" in home
    assert (await anonymous.get("/posts/ada-s-draft")).status == 200
    await db_session.rollback()
    assert await db_session.scalar(select(Post.published_at).where(Post.slug == "the-post")) == old_time

    assert "3 posts done." in (await _bulk(root, "unpublish", ids)).text
    home = (await anonymous.get("/")).text
    assert "Ada&#39;s draft" not in home and "Otto&#39;s next one" not in home and "The post" not in home
    assert (await anonymous.get("/posts/the-post")).status == 404
    assert "The post" in (await (await as_role("author")).get("/drafts")).text  # its author still has it

    await db_session.rollback()
    audit = (await db_session.execute(select(AuditEntry.action, AuditEntry.target, AuditEntry.detail)
                                      .order_by(AuditEntry.id))).all()
    assert audit == [
        ("post.publish", "post:ada-s-draft", "draft -> published"),
        ("post.publish", f"post:{scheduled.post.slug}", "scheduled -> published"),
        ("post.unpublish", "post:the-post", "published -> draft"),
        ("post.unpublish", "post:ada-s-draft", "published -> draft"),
        ("post.unpublish", f"post:{scheduled.post.slug}", "published -> draft"),
    ]


async def test_the_admin_post_list_filters_by_state(as_role, blog, db_session, people):
    await posts.create_post(db_session, people["other"], title="Otto's next one", description=None,
                            body="Soon.", status="scheduled", publish_at=datetime(2999, 1, 1, tzinfo=timezone.utc))
    await db_session.commit()
    root = await as_role("admin")
    titles = {"The post": "The post", "draft": "Ada&#39;s draft", "scheduled": "Otto&#39;s next one",
              "otto": "Otto&#39;s post"}
    expected = {"": set(titles), "draft": {"draft"}, "scheduled": {"scheduled"}, "published": {"The post", "otto"},
                "nonsense": set(titles)}
    for state, shown in expected.items():
        page = await root.get(f"/admin/posts?state={state}")
        assert page.status == 200
        assert {key for key, title in titles.items() if title in page.text} == shown, state
    page = await root.get("/admin/posts?state=draft&author=otto")
    assert "No posts match." in page.text
    page = await root.get("/admin/posts")
    assert "Scheduled for" in page.text and "Draft" in page.text
