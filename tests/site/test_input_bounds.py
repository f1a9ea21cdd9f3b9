"""Bad input on the site is a 4xx, never a 500 (issue 22, finding 1); the sweep of every
route is tests/test_bad_input.py, these are the cases it found."""

from __future__ import annotations

import pytest

from ..factories import make_post

HUGE = "99999999999999999999"
PAGED = ["/", "/tags/news", "/users/ada", "/users/ada/favorites", "/feed", "/drafts", "/search?q=post",
         "/admin/users", "/admin/posts", "/admin/comments", "/admin/tags", "/admin/audit"]


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("page", [HUGE, str(2**63), "1000000000000"])
async def test_a_page_number_past_any_list_is_404(as_user, people, db_session, path, page):
    await make_post(db_session, people["author"], "A post", tags=["news"])
    browser = await as_user("admin")
    separator = "&" if "?" in path else "?"
    assert (await browser.get(f"{path}{separator}page={page}")).status == 404


@pytest.mark.parametrize("page", ["abc", "-1", "0", "", "1.5"])
async def test_a_page_number_that_is_no_number_is_the_first_page(as_user, people, db_session, page):
    await make_post(db_session, people["author"], "A post")
    browser = await as_user("admin")
    for path in ("/", "/admin/posts"):
        shown = await browser.get(f"{path}?page={page}")
        assert shown.status == 200 and "A post" in shown.text


@pytest.mark.parametrize("email", ["\x00", "ada\x00@example.com", "ada@example.com\x1b"])
async def test_a_log_in_email_with_control_characters_gets_the_form_again(browser, people, email):
    page = await browser.post("/login", {"email": email, "password": "correct horse battery"})
    assert page.status == 422
    assert "must not contain control characters" in page.text and 'name="email"' in page.text


async def test_an_admin_search_too_long_is_refused_with_a_message(as_user, people):
    browser = await as_user("admin")
    for path in ("/admin/users", "/admin/tags", "/admin/posts"):
        page = await browser.get(f"{path}?q={'z' * 70_000}")
        assert page.status == 422 and "too long" in page.text, path


async def test_a_static_file_name_too_long_for_the_file_system_is_404(client):
    assert (await client.get("/static/" + "z" * 5_000)).status_code == 404
    assert (await client.get("/static/" + "é" * 300)).status_code == 404
    assert (await client.get("/static/site.css")).status_code == 200
