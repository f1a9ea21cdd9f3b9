"""Whatever a client puts in a route's parameters, the answer is never a 5xx (issue 22).

A property-based sweep (hypothesis): every route of ``app.url_map`` is listed in ROUTES
with its path parameters, query parameters, form fields and JSON fields, each with a value
that works; each example makes one of them hostile (huge and negative numbers, NUL and
other control characters, very long strings, lone surrogates -- as ``\\udXXX`` in JSON and
as their UTF-8 bytes in URLs and forms --, wrong JSON types, nested objects) and asserts
the answer is below 500.  ``test_every_route_is_swept`` keeps ROUTES complete.

Bounded and reproducible: ``derandomize=True``, no example database, EXAMPLES per route.
One app and one set of people per backend (a module fixture: the routes' examples share
them, as requests to a running blog do); destructive routes aim at objects of their own.

``QUARTBLOG_SWEEP_TALLY=1`` counts the 5xx answers instead of stopping at the first one
(printed at the end of the module, with ``-s``): the before/after figures of issue 22.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from quartblog import create_app
from quartblog.db import get_db
from quartblog.models import Role, Subscriber
from quartblog.services import comments

from .conftest import clear_tables, make_config
from .factories import PASSWORD, make_post, make_user
from .site.conftest import Browser

EXAMPLES = int(os.environ.get("QUARTBLOG_SWEEP_EXAMPLES", "12"))
TALLY = os.environ.get("QUARTBLOG_SWEEP_TALLY", "") not in ("", "0")

# --- hostile values ---------------------------------------------------------------------

NASTY_TEXT = [
    "99999999999999999999", "-99999999999999999999", str(2**31), str(2**63), str(2**64), "-1", "0",
    "1e400", "NaN", "inf", "-0", "0x1F", " 7 ", "١٢", "１２", "",
    "\x00", "a\x00b", "\x01", "\x08", "\x1b[2J", "\x7f", "\x85", "\x9f", "line\nbreak", "tab\there",
    "\u2028", "\ufeff", "\ud800", "x\udfffy", "\U0010ffff", "😀" * 50, "é" * 300,
    "%", "%00", "'; DROP TABLE users; --", "\\", "*", "_%", "<script>", "../../etc/passwd",
    "x" * 300, "y" * 5_000, "z" * 70_000,
]
NASTY_JSON = [None, True, False, 0, -1, 2**31, 2**63, 10**30, -(10**30), 1.5, 1e308, float("nan"),
              float("inf"), [], {}, [[[[]]]], {"a": {"b": {"c": {}}}}, ["x"] * 50, [None], [{"x": 1}]]

# Every parameter gets each of these (test_the_worst_values_in_every_parameter); the
# hypothesis sweep draws from all of the above.
WORST_TEXT = ["99999999999999999999", "-99999999999999999999", "-1", "\x00", "a\x00b", "\x1b[2J",
              "x\ud800", "z" * 70_000, "é" * 300]
WORST_JSON = [*WORST_TEXT, None, True, 10**30, -(10**30), 1e308, [], {}, {"a": {"b": {}}}, ["x"] * 50]

text_values = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),  # surrogates too
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
)
json_values = st.recursive(
    st.one_of(st.sampled_from(NASTY_JSON), text_values, st.integers(min_value=-(10**40), max_value=10**40)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def url_quote(value: str) -> str:
    """How a client sends any text in a URL or a form: its UTF-8 bytes (lone surrogates too)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


# --- the routes -------------------------------------------------------------------------

@dataclass
class Route:
    method: str
    rule: str
    actor: str = "admin"  # admin, sam (their own settings), anon
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None
    json: Any = None
    refused: bool = False  # the working values are refused by design (a wrong password ...)

    @property
    def api(self) -> bool:
        return self.rule.startswith("/api")

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


PAGE = {"page": "1"}
LIMITS = {"limit": "5", "offset": "5"}
ARTICLE = {"title": "A title", "description": "About", "body": "Text", "tagList": ["news"],
           "status": "published", "publishAt": "2020-01-01T00:00:00Z"}
POST_FORM = {"title": "A title", "description": "About", "body": "Text", "tags": "news, more",
             "publish_at": "2030-01-01T10:00", "timezone": "Europe/Paris", "action": "publish"}
SLUG = {"slug": "hello-world"}
COMMENT = {"slug": "hello-world", "comment_id": "{comment}"}

ROUTES = [
    # site: reading
    Route("GET", "/", query={**PAGE}),
    Route("GET", "/posts/<slug>", path=SLUG, query={"utm_source": "x"}),
    Route("GET", "/tags/<name>", path={"name": "news"}, query=PAGE),
    Route("GET", "/tags/<name>/feed.atom", path={"name": "news"}),
    Route("GET", "/users/<username>", path={"username": "ada"}, query=PAGE),
    Route("GET", "/users/<username>/favorites", path={"username": "ada"}, query=PAGE),
    Route("GET", "/users/<username>/feed.atom", path={"username": "ada"}),
    Route("GET", "/feed", query=PAGE),
    Route("GET", "/feed.atom"),
    Route("GET", "/drafts", query=PAGE),
    Route("GET", "/search", query={"q": "hello", **PAGE}),
    Route("GET", "/sitemap.xml"),
    Route("GET", "/robots.txt"),
    Route("GET", "/favicon.ico"),
    Route("GET", "/static/<path:filename>", path={"filename": "site.css"}),
    Route("GET", "/media/<name>", path={"name": "0" * 64 + ".png"}, refused=True),
    Route("GET", "/healthz"),
    Route("GET", "/readyz"),
    Route("GET", "/language/<tag>", "anon", path={"tag": "zh-Hans"}, query={"next": "/search"}),
    # site: accounts
    Route("GET", "/login", "anon", query={"next": "/drafts"}),
    Route("POST", "/login", "anon", query={"next": "/drafts"},
          form={"email": "ada@example.com", "password": "wrong password", "remember": "1"}, refused=True),
    # before /register and /logout: the anonymous browser's CSRF token holds until then
    Route("GET", "/forgot-password", "anon"),
    Route("POST", "/forgot-password", "anon", form={"email": "ada@example.com"}),
    Route("GET", "/reset-password/<token>", "anon", path={"token": "0" * 32 + ".forged"}, refused=True),
    Route("POST", "/reset-password/<token>", "anon", path={"token": "0" * 32 + ".forged"},
          form={"password": "a new passphrase", "password_again": "a new passphrase"}, refused=True),
    Route("GET", "/subscribe", "anon", query={"email": "reader@example.com"}),
    Route("POST", "/subscribe", "anon", form={"email": "reader@example.com"}),
    Route("GET", "/subscribe/confirm/<token>", "anon", path={"token": "forged.token"}, refused=True),
    Route("GET", "/unsubscribe/<token>", "anon", path={"token": "forged.token"}, refused=True),
    Route("POST", "/unsubscribe/<token>", "anon", path={"token": "forged.token"},
          form={"List-Unsubscribe": "One-Click"}, refused=True),
    Route("GET", "/register", "anon"),
    Route("POST", "/register", "anon", form={"username": "newbie", "email": "newbie@example.com",
                                            "password": PASSWORD}),
    Route("POST", "/logout", "anon", refused=True),
    Route("GET", "/settings", "sam"),
    Route("POST", "/settings", "sam", form={"email": "sam@example.com", "bio": "Hi", "image": "",
                                            "current_password": "wrong password", "new_password": ""}),
    Route("POST", "/settings/delete", "sam", form={"delete_password": "wrong password", "posts": "keep"}, refused=True),
    Route("POST", "/settings/avatar", "sam", form={"file": "not a file"}, refused=True),
    Route("POST", "/verify-email/resend", "sam", form={"change": "1"}, query={"next": "/settings"}),
    Route("GET", "/verify-email/<token>", "anon", path={"token": "0" * 32 + ".secret"}, refused=True),
    Route("POST", "/verify-email/<token>", "anon", path={"token": "0" * 32 + ".secret"}, refused=True),
    Route("GET", "/unsubscribe/comments/<token>", "anon", path={"token": "e30.forged"}, refused=True),
    Route("POST", "/unsubscribe/comments/<token>", "anon", path={"token": "e30.forged"},
          form={"List-Unsubscribe": "One-Click"}, refused=True),
    Route("POST", "/subscribe/cancel", "sam"),
    # site: writing and social
    Route("GET", "/write"),
    Route("POST", "/write", form=POST_FORM),
    Route("POST", "/preview", form={"body": "*hello*"}),
    Route("GET", "/posts/<slug>/edit", path=SLUG),
    Route("POST", "/posts/<slug>/edit", path=SLUG, form={**POST_FORM, "action": "save"}),
    Route("POST", "/posts/<slug>/delete", path={"slug": "doomed-site"}),
    Route("POST", "/uploads", form={"file": "not a file"}, refused=True),
    Route("POST", "/posts/<slug>/comments", path=SLUG, form={"body": "Nice"}),
    Route("POST", "/posts/<slug>/comments/<id:comment_id>/delete",
          path={"slug": "hello-world", "comment_id": "{doomed_site_comment}"}, query={"next": "/"}),
    Route("POST", "/posts/<slug>/comments/<id:comment_id>/<any(hide, unhide, approve):action>",
          path={**COMMENT, "action": "hide"}, query={"next": "/"}),
    Route("POST", "/posts/<slug>/favorite", path=SLUG, query={"next": "/"}),
    Route("POST", "/posts/<slug>/unfavorite", path=SLUG, query={"next": "/"}),
    Route("POST", "/users/<username>/follow", path={"username": "ada"}, query={"next": "/"}),
    Route("POST", "/users/<username>/unfollow", path={"username": "ada"}, query={"next": "/"}),
    # site: the admin
    Route("GET", "/admin"),
    Route("GET", "/admin/users", query={"q": "a", **PAGE}),
    Route("POST", "/admin/users/<username>/role", path={"username": "vic"}, form={"role": "reader"}),
    Route("POST", "/admin/users/<username>/disable", path={"username": "vic"}, query={"next": "/admin"}),
    Route("POST", "/admin/users/<username>/enable", path={"username": "vic"}),
    Route("POST", "/admin/users/<username>/delete", path={"username": "doomed1"}, form={"posts": "keep"}),
    Route("POST", "/admin/users/<username>/password-reset", path={"username": "vic"}, query={"next": "/admin"}),
    Route("GET", "/admin/posts", query={"author": "ada", "tag": "news", "q": "hello", "state": "draft", **PAGE}),
    Route("POST", "/admin/posts/bulk", form={"action": "unpublish", "ids": "{doomed_bulk}"}),
    Route("GET", "/admin/comments", query={"state": "hidden", **PAGE}),
    Route("POST", "/admin/comments/<id:comment_id>/<any(approve, hide, unhide, delete):action>",
          path={"comment_id": "{comment}", "action": "unhide"}),
    Route("GET", "/admin/tags", query={"q": "ne", **PAGE}),
    Route("POST", "/admin/tags/<name>/rename", path={"name": "rename-me"}, form={"name": "renamed"}),
    Route("POST", "/admin/tags/<name>/merge", path={"name": "merge-me"}, form={"into": "news"}),
    Route("POST", "/admin/tags/delete-unused"),
    Route("GET", "/admin/settings"),
    Route("POST", "/admin/settings", form={"moderation.hold_new_accounts_days": "3"}),
    Route("GET", "/admin/audit", query=PAGE),
    Route("GET", "/admin/subscribers", query={"q": "example", **PAGE}),
    Route("GET", "/admin/subscribers.csv"),
    Route("POST", "/admin/subscribers/<id:subscriber_id>/delete", path={"subscriber_id": "{doomed_subscriber}"}),
    Route("GET", "/admin/jobs"),
    Route("POST", "/admin/jobs/<id:job_id>/retry", path={"job_id": "1"}),
    Route("POST", "/admin/jobs/retry"),
    # the API
    Route("POST", "/api/users", "anon", json={"user": {"username": "apinew", "email": "apinew@example.com",
                                                       "password": PASSWORD}}),
    Route("POST", "/api/users/login", "anon", json={"user": {"email": "ada@example.com",
                                                             "password": "wrong password"}}, refused=True),
    Route("POST", "/api/users/password-reset", "anon", json={"user": {"email": "ada@example.com"}}),
    Route("POST", "/api/subscriptions", "anon", json={"subscription": {"email": "api-reader@example.com",
                                                                       "locale": "en"}}),
    Route("POST", "/api/users/password-reset/confirm", "anon",
          json={"user": {"token": "0" * 32 + ".forged", "password": "a new passphrase"}}, refused=True),
    Route("GET", "/api/user"),
    Route("PUT", "/api/user", "sam", json={"user": {"bio": "Hi", "image": "", "email": "sam@example.com",
                                                    "username": "sam", "notifyComments": True}}),
    Route("GET", "/api/user/drafts", query=LIMITS),
    Route("GET", "/api/profiles/<username>", path={"username": "ada"}),
    Route("POST", "/api/profiles/<username>/follow", path={"username": "ada"}),
    Route("DELETE", "/api/profiles/<username>/follow", path={"username": "ada"}),
    Route("GET", "/api/articles", query={"tag": "news", "author": "ada", "favorited": "root", "q": "hello",
                                         **LIMITS}),
    Route("GET", "/api/articles/feed", query=LIMITS),
    Route("POST", "/api/articles", json={"article": ARTICLE}),
    Route("GET", "/api/articles/<article:slug>", path=SLUG),
    Route("PUT", "/api/articles/<article:slug>", path=SLUG, json={"article": {**ARTICLE, "title": "Hello"}}),
    Route("DELETE", "/api/articles/<article:slug>", path={"slug": "doomed-api"}),
    Route("POST", "/api/articles/<article:slug>/favorite", path=SLUG),
    Route("DELETE", "/api/articles/<article:slug>/favorite", path=SLUG),
    Route("GET", "/api/articles/<article:slug>/comments", path=SLUG),
    Route("POST", "/api/articles/<article:slug>/comments", path=SLUG, json={"comment": {"body": "Nice"}}),
    Route("DELETE", "/api/articles/<article:slug>/comments/<id:comment_id>",
          path={"slug": "hello-world", "comment_id": "{doomed_api_comment}"}),
    Route("POST", "/api/articles/<article:slug>/comments/<id:comment_id>/approve", path=COMMENT,
          refused=True),
    Route("POST", "/api/articles/<article:slug>/comments/<id:comment_id>/hide", path=COMMENT),
    Route("POST", "/api/articles/<article:slug>/comments/<id:comment_id>/unhide", path=COMMENT),
    Route("GET", "/api/tags"),
    Route("POST", "/api/uploads", json={"file": "not a file"}, refused=True),
    Route("GET", "/api/openapi.json"),
    Route("GET", "/api/admin/users", query={"q": "a", **LIMITS}),
    Route("PUT", "/api/admin/users/<username>", path={"username": "vic"},
          json={"user": {"role": "author", "disabled": False}}),
    Route("DELETE", "/api/admin/users/<username>", path={"username": "doomed2"}, query={"posts": "delete"}),
    Route("POST", "/api/admin/users/<username>/password-reset", path={"username": "vic"}),
]

_PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def test_every_route_is_swept():
    """A new route must be added to ROUTES, with its parameters."""
    app = create_app(make_config("sqlite+aiosqlite://"))
    served = {(method, rule.rule) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == {(route.method, route.rule) for route in ROUTES}


# --- the blog the sweep runs against --------------------------------------------------------

@dataclass
class Blog:
    browsers: dict[str, Browser]
    tokens: dict[str, str | None]
    ids: dict[str, str]


@pytest.fixture(scope="module")
async def blog(database_url: str):
    from argon2 import PasswordHasher

    from quartblog.services import users

    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "_hasher", lambda: hasher)
        app = create_app(make_config(database_url, AUTH_RATE_LIMIT_PER_MINUTE=100_000,
                                     UPLOAD_RATE_LIMIT_PER_MINUTE=100_000))
        async with app.test_app():
            async with get_db(app).session() as session:
                root = await make_user(session, "root", Role.ADMIN)
                ada = await make_user(session, "ada")
                sam = await make_user(session, "sam")
                for name in ("vic", "doomed1", "doomed2"):
                    await make_user(session, name)
                await make_post(session, ada, "Hello world", tags=["news", "rename-me", "merge-me"])
                await make_post(session, ada, "Doomed site")
                await make_post(session, ada, "Doomed API")
                bulk = await make_post(session, ada, "Doomed bulk")
                ids = {"doomed_bulk": str(bulk.post.id)}
                doomed_subscriber = Subscriber(email="doomed-subscriber@example.com")
                session.add(doomed_subscriber)
                await session.flush()
                ids["doomed_subscriber"] = str(doomed_subscriber.id)
                for key in ("comment", "doomed_site_comment", "doomed_api_comment"):
                    view = await comments.add_comment(session, sam, "hello-world", f"Comment {key}")
                    ids[key] = str(view.comment.id)
                await session.commit()
            browsers = {"anon": Browser(app.test_client()), "admin": Browser(app.test_client()),
                        "sam": Browser(app.test_client())}
            await browsers["admin"].log_in("root")
            await browsers["sam"].log_in("sam")
            client = app.test_client()
            tokens: dict[str, str | None] = {"anon": None}
            for who, email in (("admin", "root@example.com"), ("sam", "sam@example.com")):
                response = await client.post("/api/users/login", json={"user": {"email": email,
                                                                               "password": PASSWORD}})
                tokens[who] = (await response.get_json())["user"]["token"]
            yield Blog(browsers, tokens, ids)
            await clear_tables(get_db(app).engine)


# --- sending ----------------------------------------------------------------------------

def _fill(template: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)


def _encode(pairs: dict[str, str]) -> str:
    return "&".join(f"{url_quote(k)}={url_quote(v)}" for k, v in pairs.items())


async def send(blog: Blog, route: Route, path: dict[str, str], query: dict[str, str],
               form: dict[str, str] | None, body: Any) -> tuple[int, str]:
    url = _PLACEHOLDER.sub(lambda m: url_quote(path[m.group(1)]), route.rule)
    if query:
        url += "?" + _encode(query)
    browser = blog.browsers[route.actor]
    headers: dict[str, str] = {}
    data: bytes | None = None
    if route.api:
        token = blog.tokens[route.actor]
        if token:
            headers["Authorization"] = f"Token {token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, ensure_ascii=True).encode()
    elif route.method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = _encode({**(form or {}), "csrf_token": await browser.token()}).encode()
    response = await browser.client.open(url, method=route.method, data=data, headers=headers)
    return response.status_code, url[:200]


def _json_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON body where a hostile value can go (the root included)."""
    places = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            places += _json_paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            places += _json_paths(inner, (*prefix, index))
    return places


def _replaced(value: Any, place: tuple, new: Any) -> Any:
    if not place:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[place[0]] = _replaced(value[place[0]], place[1:], new)
    return copy


def _places(route: Route) -> list[tuple[str, Any]]:
    places: list[tuple[str, Any]] = [("path", name) for name in route.path]
    places += [("query", name) for name in route.query] + [("query", "page")] * (not route.query)
    places += [("form", name) for name in route.form or {}]
    places += [("json", place) for place in _json_paths(route.json)] if route.json is not None else []
    return places


_tally: dict[str, list[int]] = {}


@pytest.fixture(scope="module", autouse=True)
def tally_report(backend):
    yield
    if TALLY:
        mine = {key: counts for key, counts in _tally.items() if key.startswith(backend + " ")}
        for key, (sent, failed) in sorted(mine.items()):
            if failed:
                print(f"\nSWEEP {key}: {failed} of {sent}")
        print(f"\nSWEEP {backend}: {sum(c[1] for c in mine.values())} of {sum(c[0] for c in mine.values())} "
              "hostile requests answered 5xx")


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_the_working_values_work(blog: Blog, route: Route):
    """The sweep starts from requests that succeed, so its hostile values reach the views."""
    path = {k: _fill(v, blog.ids) for k, v in route.path.items()}
    status, url = await send(blog, route, path, dict(route.query), route.form, route.json)
    assert (400 <= status < 500) if route.refused else (status < 400), (str(route), url, status)


def _hostile(blog: Blog, route: Route, kind: str, name: Any, value: Any):
    """The route's working request with ``value`` at one place: (path, query, form, body)."""
    path = {k: _fill(v, blog.ids) for k, v in route.path.items()}
    query, form, body = dict(route.query), dict(route.form) if route.form is not None else None, route.json
    if kind == "json":
        body = _replaced(body, name, value)
    else:
        {"path": path, "query": query, "form": form}[kind][name] = value
    return path, query, form, body


def _count(backend: str, route: Route, status: int) -> None:
    counts = _tally.setdefault(f"{backend} {route}", [0, 0])
    counts[0] += 1
    counts[1] += status >= 500


@pytest.mark.timeout(600)
@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_the_worst_values_in_every_parameter(blog: Blog, backend: str, route: Route):
    """Each of WORST_TEXT (and WORST_JSON in JSON bodies) at every place of the route."""
    failures = []
    for kind, name in _places(route):
        for value in WORST_JSON if kind == "json" else WORST_TEXT:
            status, url = await send(blog, route, *_hostile(blog, route, kind, name, value))
            _count(backend, route, status)
            if status >= 500:
                failures.append((kind, name, repr(value)[:40], status))
    assert TALLY or not failures, failures


@pytest.mark.timeout(600)
@pytest.mark.parametrize("route", ROUTES, ids=str)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
async def test_no_hostile_parameter_gets_a_5xx(blog: Blog, backend: str, route: Route, data):
    kind, name = data.draw(st.sampled_from(_places(route)), label="parameter")
    value = data.draw(json_values if kind == "json" else text_values, label="value")
    status, url = await send(blog, route, *_hostile(blog, route, kind, name, value))
    _count(backend, route, status)
    if not TALLY:
        assert status < 500, (str(route), kind, name, url)

