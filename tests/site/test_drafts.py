"""Drafts and scheduled posts on the site: who sees them (a matrix of roles), the editor's
buttons, time zones, lists that never show them, and the moment a scheduled post appears."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from quartblog.models import Post, PostStatus
from quartblog.services import posts
from quartblog.types import utcnow

ROLES = ["anonymous", "reader", "author", "other", "admin"]  # "author" wrote the posts
SEES_UNPUBLISHED = {"anonymous": False, "reader": False, "author": True, "other": False, "admin": True}
CAN_EDIT = {"anonymous": False, "reader": False, "author": True, "other": False, "admin": True}


async def _write(db_session, author, title: str, **publication) -> posts.PostView:
    view = await posts.create_post(db_session, author, title=title, description=None,
                                   body=f"The body of {title}.", tags="secret-tag", **publication)
    await db_session.commit()
    return view


async def _unpublished(db_session, people) -> dict[str, str]:
    draft = await _write(db_session, people["author"], "A draft", status="draft")
    scheduled = await _write(db_session, people["author"], "Coming soon",
                             status="scheduled", publish_at=utcnow() + timedelta(days=2))
    assert draft.post.state == "draft" and scheduled.post.state == "scheduled"
    return {"draft": draft.post.slug, "scheduled": scheduled.post.slug}


async def _post_row(db_session, slug: str) -> Post:
    await db_session.rollback()  # a new snapshot: what the app committed since
    return await db_session.scalar(select(Post).where(Post.slug == slug))


@pytest.mark.parametrize("who", ROLES)
async def test_only_the_author_and_admins_see_drafts_and_scheduled_posts(who, as_user, people, db_session):
    slugs = await _unpublished(db_session, people)
    browser = await as_user(None if who == "anonymous" else who)
    missing = await browser.get("/posts/no-such-post")
    missing = await browser.get("/posts/no-such-post")  # again: without the log-in's flash message
    for kind, slug in slugs.items():
        page = await browser.get(f"/posts/{slug}")
        if SEES_UNPUBLISHED[who]:
            assert page.status == 200, (kind, page.text)
            assert "only its author and the admins can see it" in page.text
            assert '<meta name="robots" content="noindex">' in page.text
        else:
            # the same page as for a post that never existed: nothing leaks
            assert page.status == 404 == missing.status, kind
            assert "A draft" not in page.text and "Coming soon" not in page.text
            assert page.text.replace(slug, "X") == missing.text.replace("no-such-post", "X")


@pytest.mark.parametrize("who", ROLES)
async def test_editing_an_unpublished_post_is_for_the_author_and_admins(who, as_user, people, db_session):
    slugs = await _unpublished(db_session, people)
    browser = await as_user(None if who == "anonymous" else who)
    for slug in slugs.values():
        form = await browser.get(f"/posts/{slug}/edit", follow=False)
        attempt = await browser.post(f"/posts/{slug}/edit", {
            "title": "Hijacked", "description": "", "body": "x", "tags": "", "action": "publish"})
        favorite = await browser.post(f"/posts/{slug}/favorite")
        comment = await browser.post(f"/posts/{slug}/comments", {"body": "Seen it"})
        if who == "anonymous":
            assert form.status in (302, 303) and attempt.status in (302, 303)
        elif CAN_EDIT[who]:
            assert form.status == 200 and attempt.status == 303
            assert (await _post_row(db_session, slug)).title == "Hijacked"
        else:  # not 403: that would tell them the post exists
            assert form.status == attempt.status == favorite.status == comment.status == 404
            assert (await _post_row(db_session, slug)).title != "Hijacked"


async def test_lists_feeds_tags_and_the_sitemap_never_show_unpublished_posts(as_user, people, db_session):
    await _unpublished(db_session, people)
    for who in ("author", "admin", None):  # not even for the people who may read them
        browser = await as_user(who)
        for url in ("/", "/users/ada", "/search?q=body", "/feed.atom", "/users/ada/feed.atom",
                    "/sitemap.xml"):
            page = await browser.get(url)
            assert page.status == 200, url
            assert "A draft" not in page.text and "Coming soon" not in page.text, (who, url)
            assert "secret-tag" not in page.text, (who, url)  # nor their tags (sidebar)
        assert (await browser.get("/tags/secret-tag")).status == 404


async def test_the_author_finds_their_drafts_and_scheduled_posts_on_their_drafts_page(as_user, people, db_session):
    await _unpublished(db_session, people)
    ada = await as_user("author")
    own = await ada.get("/users/ada")
    assert 'href="/drafts"' in own.text
    page = await ada.get("/drafts")
    assert "A draft" in page.text and "Coming soon" in page.text
    assert "Scheduled for" in page.text and "Draft: only its author" in page.text
    for who in ("other", "admin"):  # each their own: an admin's list is theirs too
        assert "A draft" not in (await (await as_user(who)).get("/drafts")).text
    assert 'href="/drafts"' not in (await (await as_user("other")).get("/users/ada")).text
    assert (await (await as_user(None)).get("/drafts", follow=False)).status in (302, 303)


async def test_save_a_draft_then_schedule_it_in_the_writers_time_zone_then_publish(as_user, people, db_session):
    ada = await as_user("author")
    form = await ada.get("/write")
    assert 'name="timezone"' in form.text and "<option>Asia/Shanghai</option>" in form.text
    page = await ada.post("/write", {"title": "Slowly", "description": "", "body": "Words", "tags": "",
                                     "publish_at": "", "timezone": "UTC", "action": "draft"}, follow=True)
    assert "Your draft is saved." in page.text
    row = await _post_row(db_session, "slowly")
    assert row.status is PostStatus.DRAFT and row.published_at is None

    # 09:30 in Shanghai (UTC+8, no daylight saving) is 01:30 UTC
    local = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=3)).replace(
        hour=9, minute=30, second=0, microsecond=0)
    page = await ada.post("/posts/slowly/edit", {
        "title": "Slowly", "description": "", "body": "Words", "tags": "",
        "publish_at": local.strftime("%Y-%m-%dT%H:%M"), "timezone": "Asia/Shanghai", "action": "schedule"},
        follow=True)
    assert "Your post is scheduled." in page.text
    row = await _post_row(db_session, "slowly")
    assert row.status is PostStatus.PUBLISHED
    assert row.published_at == local.astimezone(timezone.utc)
    assert row.published_at.hour == 1 and row.published_at.minute == 30
    assert "Slowly" not in (await (await as_user(None)).get("/")).text
    edit = await ada.get("/posts/slowly/edit")  # shown again in UTC
    assert f'value="{row.published_at.strftime("%Y-%m-%dT%H:%M")}"' in edit.text
    assert "Publish now" in edit.text and "Back to draft" in edit.text

    page = await ada.post("/posts/slowly/edit", {"title": "Slowly", "description": "", "body": "Words",
                                                 "tags": "", "publish_at": "", "timezone": "UTC",
                                                 "action": "publish"}, follow=True)
    assert "Your post is published." in page.text
    assert "Slowly" in (await (await as_user(None)).get("/")).text


async def test_a_published_post_goes_back_to_draft(as_user, people, db_session):
    await _write(db_session, people["author"], "Out there")
    ada = await as_user("author")
    edit = await ada.get("/posts/out-there/edit")
    assert "Back to draft" in edit.text and "Save changes" in edit.text
    await ada.post("/posts/out-there/edit", {"title": "Out there", "description": "", "body": "B",
                                             "tags": "", "publish_at": "", "timezone": "UTC",
                                             "action": "draft"})
    assert (await _post_row(db_session, "out-there")).status is PostStatus.DRAFT
    assert (await (await as_user(None)).get("/posts/out-there")).status == 404
    assert "Out there" not in (await (await as_user(None)).get("/")).text


async def test_the_editor_keeps_unsaved_text_when_a_form_error_comes_back(as_user, people, db_session):
    ada = await as_user("author")
    text = "Paragraph one, **unsaved**.\n\n第二段。 <kept & escaped>"
    cases = [
        ({"title": "", "action": "publish"}, "Title can&#39;t be blank"),
        ({"title": "T", "action": "schedule", "publish_at": ""}, "The publish time is needed to schedule a post"),
        ({"title": "T", "action": "schedule", "publish_at": "2001-01-01T10:00"},
         "The publish time must be in the future to schedule a post"),
        ({"title": "T", "action": "schedule", "publish_at": "tomorrow"}, "The publish time is not a valid date and time"),
        ({"title": "T", "action": "schedule", "publish_at": "2099-01-01T10:00", "timezone": "Mars/Olympus"},
         "The time zone is not a known time zone"),
    ]
    for fields, message in cases:
        data = {"description": "My summary", "body": text, "tags": "kept-tag", "publish_at": "",
                "timezone": "Europe/Paris", **fields}
        page = await ada.post("/write", data)
        assert page.status == 422, fields
        assert message in page.text, (fields, page.text)
        assert "Paragraph one, **unsaved**.\n\n第二段。 &lt;kept &amp; escaped&gt;</textarea>" in page.text
        assert 'value="My summary"' in page.text and 'value="kept-tag"' in page.text
        if fields.get("publish_at"):
            assert f'value="{fields["publish_at"]}"' in page.text
        if "timezone" not in fields:
            assert "<option selected>Europe/Paris</option>" in page.text
    await db_session.rollback()
    assert await db_session.scalar(select(Post.id)) is None


async def test_the_live_preview_renders_sanitized_markdown_and_counts_words(as_user, people):
    ada = await as_user("author")
    await ada.get("/write")
    response = await ada.client.post("/preview", form={
        "body": "Hello **world** <script>alert(1)</script> [x](javascript:alert(1))\n\n你好世界 ok",
        "csrf_token": await ada.token()})
    assert response.status_code == 200
    result = await response.get_json()
    assert "<strong>world</strong>" in result["html"]
    assert "<script>" not in result["html"] and "&lt;script&gt;" in result["html"]  # shown as text
    assert 'href="javascript' not in result["html"]
    # Hello, world, <script>alert(1)</script> (shown as text: 1 word), x, 你 好 世 界, ok
    assert result["words"] == 2 + 1 + 1 + 4 + 1
    no_token = await ada.client.post("/preview", form={"body": "x"})
    assert no_token.status_code == 400
    reader = await as_user("reader")
    await reader.get("/")
    assert (await reader.post("/preview", {"body": "x"})).status == 403


def test_word_count_counts_each_cjk_character_once():
    from quartblog.site.editor import word_count

    assert word_count("<p>Hello, world!</p>") == 2
    assert word_count("<p>我爱写博客</p>") == 5
    assert word_count("<p>Python 是一门语言 — really.</p>") == 1 + 5 + 1  # the dash is no word
    assert word_count("<p>カタカナ and 한국어</p>") == 4 + 1 + 3
    assert word_count("") == 0


async def test_a_scheduled_post_appears_when_its_time_has_passed_without_anything_running(
        as_user, people, db_session):
    slugs = await _unpublished(db_session, people)
    anonymous = await as_user(None)
    assert (await anonymous.get(f"/posts/{slugs['scheduled']}")).status == 404
    # its time comes: set just in the past in the database, as the clock would
    await db_session.execute(update(Post).where(Post.slug == slugs["scheduled"])
                             .values(published_at=utcnow() - timedelta(seconds=1)))
    await db_session.commit()
    assert (await anonymous.get(f"/posts/{slugs['scheduled']}")).status == 200
    for url in ("/", "/tags/secret-tag", "/feed.atom", "/sitemap.xml"):
        assert "coming-soon" in (await anonymous.get(url)).text, url
    assert "A draft" not in (await anonymous.get("/")).text  # the draft stays hidden


@pytest.mark.parametrize("app_config", [{"CACHE_ENABLED": True, "CACHE_TTL_SECONDS": 60}])
async def test_a_cached_page_hides_a_scheduled_post_at_most_for_the_cache_ttl(app, as_user, people, db_session):
    from quartblog.web.cache import get_cache

    cache = get_cache(app)
    now = [1000.0]
    cache._clock = lambda: now[0]
    slugs = await _unpublished(db_session, people)
    anonymous = await as_user(None)
    assert "Coming soon" not in (await anonymous.get("/")).text  # stored in the cache
    await db_session.execute(update(Post).where(Post.slug == slugs["scheduled"])
                             .values(published_at=utcnow() - timedelta(seconds=1)))
    await db_session.commit()  # its time has come: nothing runs, nothing is invalidated
    now[0] += 59
    assert "Coming soon" not in (await anonymous.get("/")).text  # the copy, still within its TTL
    now[0] += 1
    assert "Coming soon" in (await anonymous.get("/")).text  # CACHE_TTL_SECONDS later at most
