"""Accounts: signing up, in and out, settings; forms with errors keep the input."""

from __future__ import annotations

import pytest

from quartblog.models import User
from sqlalchemy import func, select

from ..factories import PASSWORD, make_user


async def _users(db_session) -> int:
    return await db_session.scalar(select(func.count()).select_from(User))


async def test_a_visitor_signs_up_and_is_signed_in(browser, db_session):
    await browser.get("/register")
    page = await browser.post("/register", {"username": "zoe", "email": "Zoe@Example.com",
                                            "password": "long enough pw"}, follow=True)
    assert page.status == 200
    assert "Welcome, zoe!" in page.text
    assert 'href="/users/zoe"' in page.text and "Log out" in page.text
    user = await db_session.scalar(select(User).where(User.username == "zoe"))
    assert user.email == "zoe@example.com" and user.password_hash.startswith("$argon2")


async def test_sign_up_errors_are_shown_at_each_field_and_the_input_is_kept(browser, db_session):
    await make_user(db_session, "ada")
    await browser.get("/register")
    page = await browser.post("/register", {"username": "ada", "email": "not-an-email", "password": "short"})
    assert page.status == 422
    assert "Username has already been taken" in page.text
    assert "Email is invalid" in page.text
    assert "Password is too short" in page.text
    assert 'value="not-an-email"' in page.text and 'value="ada"' in page.text
    assert 'value="short"' not in page.text  # passwords are never echoed
    assert await _users(db_session) == 1


async def test_log_in_with_a_wrong_password_is_refused(browser, db_session):
    await make_user(db_session, "ada")
    await browser.get("/login")
    page = await browser.post("/login", {"email": "ada@example.com", "password": "wrong password"})
    assert page.status == 422
    assert "The email or the password is wrong" in page.text
    assert "Password the email" not in page.text  # a sentence of its own, not "<label> <message>"
    assert 'value="ada@example.com"' in page.text


@pytest.mark.parametrize("app_config", [{"AUTH_RATE_LIMIT_PER_MINUTE": 3}])
async def test_guessing_passwords_is_slowed_down(browser, db_session, app_config):
    await make_user(db_session, "ada")
    for _ in range(3):
        assert (await browser.get("/login")).status == 200  # showing the form is no attempt
        page = await browser.post("/login", {"email": "ada@example.com", "password": "guess"})
        assert page.status == 422
    page = await browser.post("/login", {"email": "ada@example.com", "password": PASSWORD})
    assert page.status == 429
    assert "Too many attempts" in page.text


async def test_log_in_goes_back_to_the_page_asked_for_and_log_out_signs_out(browser, db_session, app):
    await make_user(db_session, "ada")
    page = await browser.get("/write", follow=False)
    assert page.status == 302 and page.location.startswith("/login?next=")
    await browser.get(page.location)
    page = await browser.post("/login?next=/write", {"email": "ada@example.com", "password": PASSWORD})
    assert page.status == 303 and page.location == "/write"
    assert "New post" in (await browser.get("/write")).text
    page = await browser.post("/logout", follow=True)
    assert "You are signed out." in page.text and "Log in" in page.text
    assert (await browser.get("/write", follow=False)).status == 302


async def test_log_in_never_redirects_to_another_site(browser, db_session):
    await make_user(db_session, "ada")
    await browser.get("/login")
    page = await browser.post("/login?next=//evil.example/x", {"email": "ada@example.com", "password": PASSWORD})
    assert page.location == "/"


async def test_remember_me_makes_a_lasting_cookie_and_cookies_are_httponly(browser, db_session):
    await make_user(db_session, "ada")

    async def auth_cookie(remember: bool) -> str:
        await browser.get("/login")
        form = {"email": "ada@example.com", "password": PASSWORD, "csrf_token": await browser.token()}
        if remember:
            form["remember"] = "1"
        response = await browser.client.post("/login", form=form)
        return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("quartblog_auth="))

    remembered = await auth_cookie(True)
    assert "Expires=" in remembered and "HttpOnly" in remembered and "SameSite=Lax" in remembered
    assert "Expires=" not in await auth_cookie(False)


async def test_settings_change_the_profile_and_the_password(browser, db_session, new_browser):
    await make_user(db_session, "ada")
    await browser.log_in("ada")
    other_browser = new_browser()
    await other_browser.log_in("ada")
    page = await browser.get("/settings")
    assert 'value="ada@example.com"' in page.text
    page = await browser.post("/settings", {"email": "ada@example.com", "bio": "I write about engines.",
                                            "image": "https://example.com/ada.png", "new_password": "",
                                            "current_password": ""}, follow=True)
    assert "Your settings are saved." in page.text
    profile = await browser.get("/users/ada")
    assert "I write about engines." in profile.text and 'src="https://example.com/ada.png"' in profile.text

    refused = await browser.post("/settings", {"email": "ada@example.com", "bio": "", "image": "",
                                               "new_password": "a new password", "current_password": "nope"})
    assert refused.status == 422 and "The current password is wrong" in refused.text
    changed = await browser.post("/settings", {"email": "ada@example.com", "bio": "", "image": "",
                                               "new_password": "a new password", "current_password": PASSWORD})
    assert changed.status == 303
    assert "Settings" in (await browser.get("/")).text  # this browser stays signed in
    assert (await other_browser.get("/settings", follow=False)).status == 302  # the other one is signed out
    await browser.post("/logout")
    await browser.get("/login")
    page = await browser.post("/login", {"email": "ada@example.com", "password": "a new password"})
    assert page.status == 303


async def test_bad_settings_are_shown_with_messages_and_nothing_is_saved(browser, db_session):
    await make_user(db_session, "ada")
    await browser.log_in("ada")
    page = await browser.post("/settings", {"email": "ada@example.com", "bio": "A new bio",
                                            "image": "ftp://example.com/x.png", "new_password": "",
                                            "current_password": ""})
    assert page.status == 422
    assert "The image URL must be an http(s) URL" in page.text
    assert "A new bio" in page.text  # the input is kept
    assert "A new bio" not in (await browser.get("/users/ada")).text
