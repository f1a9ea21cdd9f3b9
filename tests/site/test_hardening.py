"""The site under a hostile test (issue 8): revocable sign-ins, renewed sessions,
production cookies, forged Host headers, bounded ids, control characters, 405s."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from quartblog.db import get_db
from quartblog.models import Comment
from quartblog.services import comments

from ..factories import PASSWORD, make_post
from .conftest import TOKEN_RE, Browser

AUTH_COOKIE = "quartblog_auth"


def cookie_header(browser: Browser) -> str:
    """The browser's cookies, as a thief who copied them would send them."""
    return "; ".join(f"{c.name}={c.value}" for c in browser.client.cookie_jar)


async def open_with_copied_cookies(app, cookies: str, path: str):
    return await app.test_client(use_cookies=False).get(path, headers={"Cookie": cookies})


async def sign_ins_of(app, user) -> int:
    async with get_db(app).session() as session:  # a fresh transaction: sees the latest commits
        return await session.scalar(text("SELECT COUNT(*) FROM sign_ins WHERE user_id = :id"), {"id": user.id})


async def test_a_copied_sign_in_cookie_stops_working_at_log_out(app, as_user, people, db_session):
    browser = await as_user("author")
    copied = cookie_header(browser)
    assert AUTH_COOKIE in copied
    assert (await open_with_copied_cookies(app, copied, "/settings")).status_code == 200

    assert (await browser.post("/logout")).status == 303
    assert (await browser.get("/settings", follow=False)).status == 302
    response = await open_with_copied_cookies(app, copied, "/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert await sign_ins_of(app, people["author"]) == 0


async def test_a_password_change_signs_out_every_other_browser_even_a_copied_cookie(app, as_user, people,
                                                                                    db_session):
    here, elsewhere = await as_user("author"), await as_user("author")
    copied = cookie_header(elsewhere)
    await here.get("/settings")
    page = await here.post("/settings", {"email": "ada@example.com", "bio": "", "image": "",
                                         "current_password": PASSWORD, "new_password": "a new password 1"})
    assert page.status == 303
    assert (await here.get("/settings", follow=False)).status == 200  # this browser stays signed in
    assert (await elsewhere.get("/settings", follow=False)).status == 302
    assert (await open_with_copied_cookies(app, copied, "/settings")).status_code == 302
    assert await sign_ins_of(app, people["author"]) == 1


async def test_a_csrf_token_taken_before_log_in_is_refused_after_it(browser, people):
    await browser.get("/login")
    before = await browser.token()
    await browser.log_in(people["author"].username)
    page = await browser.get("/")
    after = TOKEN_RE.search(page.text).group(1)
    assert after != before
    refused = await browser.client.post("/logout", form={"csrf_token": before})
    assert refused.status_code == 400
    assert (await browser.get("/settings", follow=False)).status == 200  # still signed in
    accepted = await browser.client.post("/logout", form={"csrf_token": after})
    assert accepted.status_code == 303


async def test_the_session_is_renewed_at_log_out_too(browser, people):
    await browser.log_in(people["author"].username)
    signed_in_token = await browser.token()
    await browser.post("/logout")
    refused = await browser.client.post("/login", form={
        "csrf_token": signed_in_token, "email": "ada@example.com", "password": PASSWORD})
    assert refused.status_code == 400


@pytest.mark.parametrize("app_config", [{"ENV": "production", "SITE_URL": "https://blog.example.com"}])
async def test_production_cookies_are_secure_http_only_and_same_site_lax(app, people, app_config):
    client = app.test_client()
    form = await client.get("/login", scheme="https")
    token = TOKEN_RE.search(await form.get_data(as_text=True)).group(1)
    signed_in = await client.post("/login", scheme="https", form={
        "csrf_token": token, "email": "ada@example.com", "password": PASSWORD})
    assert signed_in.status_code == 303
    set_cookies = form.headers.get_all("Set-Cookie") + signed_in.headers.get_all("Set-Cookie")
    by_name = {header.partition("=")[0]: header for header in set_cookies}
    assert {"session", AUTH_COOKIE} <= set(by_name)
    for name in ("session", AUTH_COOKIE):
        attributes = {part.strip().lower() for part in by_name[name].split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax"} <= attributes, (name, by_name[name])


EVIL = "evil.example"


@pytest.mark.parametrize("app_config", [{"CACHE_ENABLED": True, "SITE_URL": "https://blog.example.com"}])
async def test_a_forged_host_header_never_reaches_cached_pages(client, people, db_session, app_config):
    await make_post(db_session, people["author"], "Hosts", tags=["dns"])
    pages = ["/feed.atom", "/tags/dns/feed.atom", "/users/ada/feed.atom", "/", "/posts/hosts",
             "/tags/dns", "/users/ada"]
    for path in pages:
        forged = await client.get(path, headers={"Host": EVIL})
        assert forged.status_code == 200, path
        assert EVIL not in await forged.get_data(as_text=True), path
    for path in pages:
        normal = await client.get(path)
        body = await normal.get_data(as_text=True)
        assert normal.status_code == 200 and EVIL not in body, path
    feed = await (await client.get("/feed.atom")).get_data(as_text=True)
    assert '<link rel="self" type="application/atom+xml" href="https://blog.example.com/feed.atom"/>' in feed
    assert "<id>https://blog.example.com/posts/hosts</id>" in feed


@pytest.mark.parametrize("app_config", [{"SITE_URL": "https://example.com/blog/"}])
async def test_site_url_with_a_path_prefix_makes_every_absolute_link(client, people, db_session, app_config):
    await make_post(db_session, people["author"], "Prefixed")
    feed = await (await client.get("/users/ada/feed.atom", headers={"Host": EVIL})).get_data(as_text=True)
    assert 'href="https://example.com/blog/users/ada/feed.atom"' in feed
    assert "<id>https://example.com/blog/posts/prefixed</id>" in feed
    assert "<uri>https://example.com/blog/users/ada</uri>" in feed
    assert EVIL not in feed
    home = await (await client.get("/")).get_data(as_text=True)  # the proxy stripped /blog
    assert 'href="/blog/posts/prefixed"' in home and 'href="/posts/prefixed"' not in home


@pytest.mark.parametrize("comment_id", ["1180591620717411303424", "2147483648", "0", "-1", "1e3"])
async def test_a_comment_id_out_of_range_is_404_not_500(as_user, people, db_session, comment_id):
    await make_post(db_session, people["author"], "The post")
    await comments.add_comment(db_session, people["author"], "the-post", "A comment")
    await db_session.commit()
    browser = await as_user("admin")
    page = await browser.post(f"/posts/the-post/comments/{comment_id}/delete")
    assert page.status == 404
    assert await db_session.scalar(select(func.count()).select_from(Comment)) == 1


async def test_control_characters_are_refused_with_form_errors(as_user, people, db_session):
    browser = await as_user("author")
    await browser.get("/write")
    page = await browser.post("/write", {"title": "Bell\x07", "description": "esc \x1b[31m red",
                                         "body": "NUL \x00 in it", "tags": ""})
    assert page.status == 422
    assert page.text.count("must not contain control characters") == 3
    await browser.get("/settings")
    page = await browser.post("/settings", {"email": "ada@example.com", "bio": "C1 \x9b here", "image": ""})
    assert page.status == 422 and "must not contain control characters" in page.text
    fine = await browser.post("/settings", {"email": "ada@example.com", "image": "",
                                            "bio": "Two lines,\r\n\ta tab: fine"})
    assert fine.status == 303


async def test_405_on_the_site_says_which_methods_are_allowed(client):
    response = await client.put("/login")
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}
    response = await client.get("/logout")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
