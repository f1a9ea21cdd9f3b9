"""Reading pages: what a visitor sees, and the SQL each page costs."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from quartblog.services import posts

from ..factories import make_post, make_user


async def test_home_lists_newest_posts_first_with_their_details_and_a_sidebar(browser, db_session):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Older post", body="The *first* words of the older post.", tags="python, async")
    await make_post(db_session, ada, "Newer post", description="A short description.", tags="python")
    page = await browser.get("/")
    assert page.status == 200
    assert "<title>quartblog</title>" in page.text
    assert page.text.index("Newer post") < page.text.index("Older post")
    assert "A short description." in page.text
    assert "The first words of the older post." in page.text  # the start of the text, as plain text
    assert "Read more" in page.text and 'href="/posts/newer-post"' in page.text
    assert 'href="/tags/python"' in page.text and "0 comments" in page.text
    sidebar = page.text[page.text.index('class="sidebar"'):]
    assert "Recent posts" in sidebar and "Newer post" in sidebar
    assert "Popular tags" in sidebar and "python" in sidebar


@pytest.mark.parametrize("app_config", [{"POSTS_PER_PAGE": 2}])
async def test_home_is_paginated_by_the_page_size_setting(browser, db_session, app_config):
    ada = await make_user(db_session, "ada")
    for i in range(5):
        await make_post(db_session, ada, f"Post number {i}")
    first = await browser.get("/")
    listed = first.text.split('class="sidebar"')[0]
    assert "Post number 4" in listed and "Post number 3" in listed
    assert "Post number 2" not in listed
    assert 'href="/?page=2"' in first.text
    third = await browser.get("/?page=3")
    listed = third.text.split('class="sidebar"')[0]
    assert "Post number 0" in listed and "Post number 1" not in listed
    assert 'rel="prev" href="/?page=2"' in third.text and 'rel="next"' not in third.text


async def test_each_page_runs_the_same_statements_for_one_post_or_twenty(browser, db_session, count_statements, people):
    ada = people["author"]
    await browser.log_in("ada")
    pages = ["/", "/tags/common", "/users/ada", "/users/ada/favorites", "/feed", "/search?q=post",
             "/posts/post-0", "/feed.atom", "/tags/common/feed.atom", "/users/ada/feed.atom"]
    counts = {}
    for total in (1, 20):
        existing = await posts.list_posts(db_session, limit=1)
        for i in range(existing.total, total):
            view = await make_post(db_session, ada, f"Post {i}", tags=["common", f"tag{i}", f"more{i}"])
            await posts.favorite(db_session, ada, view.post.slug)
            await db_session.commit()
        for url in pages:
            with count_statements() as counter:
                page = await browser.get(url)
            assert page.status == 200, url
            counts.setdefault(url, []).append(counter.count)
    assert all(a == b for a, b in counts.values()), counts
    assert counts["/"][0] <= 6, counts


async def test_a_post_page_renders_markdown_safely_and_counts_the_visit(browser, db_session):
    ada = await make_user(db_session, "ada")
    body = ("# Heading\n\n**bold** <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
            "[bad](javascript:alert(1)) [good](https://example.com)")
    await make_post(db_session, ada, "Safe post", body=body, tags="security")
    page = await browser.get("/posts/safe-post")
    assert page.status == 200
    assert "<title>Safe post · quartblog</title>" in page.text
    article = page.text[page.text.index('class="prose"'):page.text.index('id="comments"')]
    assert "<h1>Heading</h1>" in article and "<strong>bold</strong>" in article
    assert "<script" not in article and "<img" not in article  # raw HTML is shown as text
    assert 'href="javascript' not in page.text
    assert '<a href="https://example.com" rel="nofollow noopener">good</a>' in article
    assert "1 view" in (await browser.get("/posts/safe-post")).text
    assert "2 views" in (await browser.get("/posts/safe-post")).text


async def test_a_visit_is_not_an_edit(browser, db_session):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Quiet post")
    await browser.get("/posts/quiet-post")
    assert "Updated" not in (await browser.get("/posts/quiet-post")).text


async def test_tag_and_author_pages_list_their_posts(browser, db_session):
    ada = await make_user(db_session, "ada")
    bob = await make_user(db_session, "bob")
    await make_post(db_session, ada, "Ada on Python", tags="python")
    await make_post(db_session, bob, "Bob on Rust", tags="rust")
    tag = await browser.get("/tags/python")
    assert "Ada on Python" in tag.text and "Bob on Rust" not in tag.text
    assert "Posts tagged" in tag.text
    author = await browser.get("/users/bob")
    assert "Bob on Rust" in author.text and "Ada on Python" not in author.text
    assert "<title>bob · quartblog</title>" in author.text
    assert (await browser.get("/tags/nothing-here")).status == 404
    assert (await browser.get("/users/nobody")).status == 404


async def test_search_finds_words_in_titles_and_bodies_on_every_database(browser, db_session):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Async database drivers", body="Comparing asyncmy and aiomysql.")
    await make_post(db_session, ada, "Gardening", body="Tomatoes need sun; the database of seeds grows.")
    await make_post(db_session, ada, "异步编程", body="在 Python 里写异步代码。")
    await make_post(db_session, ada, "Cooking", body="Nothing about computers.")

    async def titles(query: str) -> list[str]:
        page = await browser.get(f"/search?q={quote(query)}")
        assert page.status == 200
        return sorted(t for t in ("Async database drivers", "Gardening", "异步编程", "Cooking") if t in page.text)

    assert await titles("database") == ["Async database drivers", "Gardening"]
    assert await titles("DATABASE aiomysql") == ["Async database drivers"]
    assert await titles("datab") == ["Async database drivers", "Gardening"]  # the start of a word
    assert await titles("异步") == ["异步编程"]
    assert await titles("py") == ["异步编程"]
    assert await titles("tomatoes") == ["Gardening"]
    assert await titles("the database") == ["Gardening"]  # a stop word of MySQL's index counts too
    assert await titles("zebra") == []
    assert "No posts match" in (await browser.get("/search?q=zebra")).text
    empty = await browser.get("/search")
    assert empty.status == 200 and "Words in titles and posts" in empty.text


async def test_error_pages_are_in_the_sites_layout(browser):
    page = await browser.get("/no/such/page")
    assert page.status == 404
    assert "Page not found" in page.text and 'class="site-header"' in page.text
    assert "<title>Page not found · quartblog</title>" in page.text
    assert (await browser.get("/posts/missing")).status == 404
