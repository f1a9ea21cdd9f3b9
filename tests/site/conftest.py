"""Site fixtures: people in each role, and clients signed in as them.

``Browser`` wraps the Quart test client the way a person uses a browser: open a page,
fill in a form found on it (with the page's CSRF token), read what comes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from quartblog.models import Role

from ..factories import PASSWORD, make_user

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Page:
    status: int
    text: str
    location: str | None = None


class Browser:
    def __init__(self, client) -> None:
        self.client = client
        self._token: str | None = None

    async def get(self, url: str, *, follow: bool = True) -> Page:
        response = await self.client.get(url, follow_redirects=follow)
        text = await response.get_data(as_text=True)
        match = TOKEN_RE.search(text)
        if match:
            self._token = match.group(1)
        return Page(response.status_code, text, response.headers.get("Location"))

    async def token(self) -> str:
        if self._token is None:
            await self.get("/login")  # a page with a form for everyone
        assert self._token, "no CSRF token on the log-in page"
        return self._token

    async def post(self, url: str, data: dict | None = None, *, follow: bool = False,
                   csrf: bool = True) -> Page:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = await self.token()
        response = await self.client.post(url, form=form)
        location = response.headers.get("Location")
        if follow and location and response.status_code in (302, 303):
            return await self.get(location.partition("#")[0])  # a browser keeps the fragment to itself
        text = await response.get_data(as_text=True)
        return Page(response.status_code, text, location)

    async def log_in(self, username: str, remember: bool = False) -> Page:
        await self.get("/login")
        data = {"email": f"{username}@example.com", "password": PASSWORD}
        if remember:
            data["remember"] = "1"
        page = await self.post("/login", data)
        assert page.status == 303, page.text
        self._token = None
        return page


@pytest.fixture
def browser(app) -> Browser:
    return Browser(app.test_client())


@pytest.fixture
def new_browser(app):
    """Another browser (its own cookies), for a second person."""
    return lambda: Browser(app.test_client())


@pytest.fixture
async def people(db_session) -> dict:
    """One person per role: a reader, two authors, an admin."""
    return {
        "reader": await make_user(db_session, "rita", Role.READER),
        "author": await make_user(db_session, "ada"),
        "other": await make_user(db_session, "otto"),
        "admin": await make_user(db_session, "root", Role.ADMIN),
    }


@pytest.fixture
def as_user(people, new_browser):
    """``await as_user("author")``: a browser signed in as that person (None: anonymous)."""

    async def sign_in(who: str | None) -> Browser:
        browser = new_browser()
        if who is not None:
            await browser.log_in(people[who].username)
        return browser

    return sign_in
