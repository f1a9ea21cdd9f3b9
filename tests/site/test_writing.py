"""Writing posts, commenting, favorites and follows, as a signed-in person does them."""

from __future__ import annotations

from sqlalchemy import func, select

from quartblog.models import Post

from ..factories import make_post, make_user


async def _posts(db_session) -> int:
    return await db_session.scalar(select(func.count()).select_from(Post))


async def test_an_author_writes_a_post_with_tags_and_markdown(browser, db_session):
    await make_user(db_session, "ada")
    await browser.log_in("ada")
    await browser.get("/write")
    page = await browser.post("/write", {"title": "我的第一篇文章", "description": "",
                                         "body": "Hello **world**", "tags": "Python, brand new , python"})
    assert page.status == 303 and page.location == "/posts/wo-de-di-yi-pian-wen-zhang"
    post = await browser.get(page.location)
    assert "Your post is published." in post.text
    assert "<strong>world</strong>" in post.text
    assert 'href="/tags/brand new"' in post.text or 'href="/tags/brand%20new"' in post.text
    assert 'href="/tags/python"' in post.text


async def test_preview_shows_the_rendered_markdown_and_saves_nothing(browser, db_session):
    await make_user(db_session, "ada")
    await browser.log_in("ada")
    page = await browser.post("/write", {"title": "Draft", "body": "Some _emphasis_", "tags": "",
                                         "description": "", "action": "preview"})
    assert page.status == 200
    assert "Preview (not saved yet)" in page.text and "<em>emphasis</em>" in page.text
    assert 'value="Draft"' in page.text
    assert await _posts(db_session) == 0


async def test_a_post_with_errors_is_shown_again_and_nothing_is_saved(browser, db_session):
    await make_user(db_session, "ada")
    await browser.log_in("ada")
    page = await browser.post("/write", {"title": "", "description": "", "body": "Kept text", "tags": "new-tag"})
    assert page.status == 422
    assert "Title can&#39;t be blank" in page.text
    assert "Kept text" in page.text and 'value="new-tag"' in page.text
    assert await _posts(db_session) == 0
    assert (await browser.get("/tags/new-tag")).status == 404


async def test_editing_keeps_the_slug_and_deleting_removes_the_post(browser, db_session):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "First title", tags="old")
    await browser.log_in("ada")
    form = await browser.get("/posts/first-title/edit")
    assert 'value="First title"' in form.text and 'value="old"' in form.text
    page = await browser.post("/posts/first-title/edit", {"title": "Second title", "description": "",
                                                          "body": "New body", "tags": "new"}, follow=True)
    assert "Your changes are saved." in page.text
    assert "Second title" in page.text and "New body" in page.text and 'href="/tags/new"' in page.text
    page = await browser.post("/posts/first-title/delete", follow=True)
    assert "The post was deleted." in page.text
    assert (await browser.get("/posts/first-title")).status == 404


async def test_comments_are_shown_oldest_first_and_can_be_deleted(browser, db_session):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Talk")
    anonymous = await browser.get("/posts/talk")
    assert "to comment" in anonymous.text and 'action="/posts/talk/comments"' not in anonymous.text
    await browser.log_in("ada")
    await browser.post("/posts/talk/comments", {"body": "First!"})
    page = await browser.post("/posts/talk/comments", {"body": "Second <b>thoughts</b>"}, follow=True)
    assert "Your comment was posted." in page.text
    assert page.text.index("First!") < page.text.index("Second")
    assert "Second &lt;b&gt;thoughts&lt;/b&gt;" in page.text and "2 comments" in page.text
    blank = await browser.post("/posts/talk/comments", {"body": "   "})
    assert blank.status == 422 and "can&#39;t be blank" in blank.text
    comment_id = page.text.split('id="comment-')[1].split('"')[0]
    page = await browser.post(f"/posts/talk/comments/{comment_id}/delete", follow=True)
    assert "The comment was deleted." in page.text and "First!" not in page.text


async def test_favorites_show_on_the_post_and_on_the_fans_page(browser, db_session):
    ada = await make_user(db_session, "ada")
    await make_user(db_session, "bob")
    await make_post(db_session, ada, "Lovely post")
    await browser.log_in("bob")
    page = await browser.post("/posts/lovely-post/favorite?next=/", follow=True)
    assert "Added to your favorites." in page.text and "♥ 1" in page.text
    assert "Lovely post" in (await browser.get("/users/bob/favorites")).text
    await browser.post("/posts/lovely-post/unfavorite")
    assert "Lovely post" not in (await browser.get("/users/bob/favorites")).text.split('class="tabs"')[1]


async def test_following_an_author_fills_your_feed(browser, db_session):
    ada = await make_user(db_session, "ada")
    carl = await make_user(db_session, "carl")
    await make_user(db_session, "bob")
    await make_post(db_session, ada, "From Ada")
    await make_post(db_session, carl, "From Carl")
    await browser.log_in("bob")
    assert "Follow some authors" in (await browser.get("/feed")).text
    page = await browser.post("/users/ada/follow", follow=True)
    assert "You are now following ada." in page.text and "1 follower" in page.text
    feed = await browser.get("/feed")
    assert "From Ada" in feed.text and "From Carl" not in feed.text
    await browser.post("/users/ada/unfollow")
    assert "From Ada" not in (await browser.get("/feed")).text
    assert (await browser.get("/feed", follow=False)).status == 200


async def test_atom_feeds_are_valid_atom_with_absolute_links(browser, db_session):
    import xml.etree.ElementTree as ET

    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Feed me", body="Some <b>markup</b> & **bold**", tags="news")
    atom = "{http://www.w3.org/2005/Atom}"
    for url in ("/feed.atom", "/tags/news/feed.atom", "/users/ada/feed.atom"):
        response = await browser.client.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/atom+xml")
        feed = ET.fromstring(await response.get_data())
        assert feed.tag == f"{atom}feed"
        for required in ("id", "title", "updated"):
            assert feed.find(f"{atom}{required}").text
        assert feed.find(f"{atom}link[@rel='self']").get("href") == f"http://localhost{url}"
        entries = feed.findall(f"{atom}entry")
        assert len(entries) == 1
        entry = entries[0]
        for required in ("id", "title", "updated"):
            assert entry.find(f"{atom}{required}").text
        assert entry.find(f"{atom}author/{atom}name").text == "ada"
        assert entry.find(f"{atom}link[@rel='alternate']").get("href") == "http://localhost/posts/feed-me"
        content = entry.find(f"{atom}content")
        assert content.get("type") == "html" and "<strong>bold</strong>" in content.text
        assert "<b>" not in content.text
    assert (await browser.client.get("/users/nobody/feed.atom")).status_code == 404
