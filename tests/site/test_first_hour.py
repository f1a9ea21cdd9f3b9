"""The site for a reader's first hour (issue 10): pages beyond the last are 404, tags
show in the order they were written."""

from __future__ import annotations

import re

from ..factories import make_post, make_user


async def test_a_page_beyond_the_last_is_404_and_page_one_of_nothing_is_200(browser, db_session):
    empty = await browser.get("/")
    assert empty.status == 200 and "No posts yet" in empty.text
    assert (await browser.get("/?page=2")).status == 404
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Only post", tags="solo")
    assert (await browser.get("/")).status == 200
    assert (await browser.get("/?page=1")).status == 200
    for path in ["/?page=999", "/?page=2", "/tags/solo?page=2", "/users/ada?page=2",
                 "/search?q=only&page=2"]:
        page = await browser.get(path)
        assert page.status == 404, path
        assert "Page not found" in page.text
    search = await browser.get("/search?q=zebra")
    assert search.status == 200 and "No posts match" in search.text


async def test_the_site_shows_tags_in_the_order_they_were_written(browser, db_session):
    ada = await make_user(db_session, "ada")
    view = await make_post(db_session, ada, "Ordered tags", tags="zeta, alpha, mid, Alpha")
    assert view.tags == ["zeta", "alpha", "mid"]
    for path in [f"/posts/{view.post.slug}", "/", "/tags/alpha"]:
        page = await browser.get(path)
        shown = re.findall(r'href="/tags/([^"]+)"', page.text)
        # the post's own list: the three tags in order (the sidebar lists them by use, then name)
        assert any(shown[i:i + 3] == ["zeta", "alpha", "mid"] for i in range(len(shown))), (path, shown)
