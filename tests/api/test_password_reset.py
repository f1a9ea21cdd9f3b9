"""The API's way back into a locked account (an extension): ask for a link by email, the
mail that arrives at a real SMTP server, its token set a new password through the API;
what it must not do (tell who has an account, work twice, accept a bad password); and
the admin's "send this user a link"."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from quartblog.jobs import drain
from quartblog.models import AuditEntry, PasswordReset, Role, User

from ..mailbox import link_in, text_of
from ..site.conftest import Browser
from .conftest import PASSWORD, errors_of, register

NEW_PASSWORD = "a brand new passphrase"
REQUEST = "/api/users/password-reset"
CONFIRM = "/api/users/password-reset/confirm"


@pytest.fixture
def app_config(mailbox, request):
    config = {"SMTP_URL": mailbox.url, "SITE_URL": "http://blog.test", "MAIL_FROM": "Blog <blog@blog.test>"}
    config.update(getattr(request, "param", {}))
    return config


async def ask(client, email):
    return await client.post(REQUEST, json={"user": {"email": email}})


async def confirm(client, token, password=NEW_PASSWORD):
    return await client.post(CONFIRM, json={"user": {"token": token, "password": password}})


async def mailed_token(app, mailbox, address: str, count: int = 1) -> str:
    """Run the queued jobs; the token of the newest reset link mailed to ``address``."""
    await drain(app)
    await mailbox.wait_for(count)
    path = link_in(mailbox.to(address)[-1], "/reset-password/")
    return path.rpartition("/")[2]


async def log_in(client, email, password):
    return await client.post("/api/users/login", json={"user": {"email": email, "password": password}})


async def test_a_mailed_link_sets_a_new_password_through_the_api(app, client, mailbox):
    alice = await register(client, "alice")
    browser = Browser(app.test_client())
    await browser.log_in("alice")

    response = await ask(client, "Alice@Example.com")
    assert response.status_code == 202
    assert await response.get_json() == {"passwordReset": {"expiresIn": 3600}}

    await drain(app)
    [message] = await mailbox.wait_for(1)
    assert message["To"] == "alice@example.com" and message["Subject"] == "Reset your password"
    assert "Hello alice," in text_of(message)
    assert "http://blog.test/reset-password/" in text_of(message)  # the site's page, from SITE_URL
    token = link_in(message, "/reset-password/").rpartition("/")[2]

    done = await confirm(client, token)
    assert done.status_code == 200
    user = (await done.get_json())["user"]
    assert user["username"] == "alice" and user["email"] == "alice@example.com"
    assert user["token"] and user["token"] != alice.token
    me = await client.get("/api/user", headers={"Authorization": f"Token {user['token']}"})
    assert me.status_code == 200 and (await me.get_json())["user"]["username"] == "alice"

    # every token from before is revoked, every browser signed out, the old password refused
    old = await client.get("/api/user", headers=alice.headers)
    assert old.status_code == 401
    assert (await browser.get("/settings", follow=False)).status in (302, 303)
    assert (await log_in(client, "alice@example.com", PASSWORD)).status_code == 401
    assert (await log_in(client, "alice@example.com", NEW_PASSWORD)).status_code == 200

    # the link works once, through the API and on the site
    again = await confirm(client, token, "yet another passphrase")
    assert again.status_code == 422
    assert await errors_of(again) == {"token": ["is invalid or has expired: ask for a new link"]}
    assert (await Browser(app.test_client()).get(f"/reset-password/{token}")).status == 404
    assert (await log_in(client, "alice@example.com", NEW_PASSWORD)).status_code == 200


async def test_the_answer_is_the_same_for_an_unknown_address(app, client, db_session, mailbox):
    await register(client, "alice")
    await register(client, "dina")
    await db_session.execute(update(User).where(User.username == "dina").values(disabled=True))
    await db_session.commit()
    known = await ask(client, "alice@example.com")
    unknown = await ask(client, "nobody@example.com")
    disabled = await ask(client, "dina@example.com")
    assert known.status_code == unknown.status_code == disabled.status_code == 202
    assert (await known.get_data()) == (await unknown.get_data()) == (await disabled.get_data())
    assert set(known.headers.keys()) == set(unknown.headers.keys())

    assert await drain(app) == 1
    await mailbox.wait_for(1)
    assert [m["To"] for m in mailbox.messages] == ["alice@example.com"]


async def test_a_link_also_works_on_the_site_and_a_site_link_through_the_api(app, client, mailbox):
    await register(client, "alice")
    await ask(client, "alice@example.com")
    token = await mailed_token(app, mailbox, "alice@example.com")
    browser = Browser(app.test_client())
    page = await browser.get(f"/reset-password/{token}")
    assert page.status == 200 and "Choose a new password" in page.text
    done = await browser.post(f"/reset-password/{token}", {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert done.status == 303
    assert (await log_in(client, "alice@example.com", NEW_PASSWORD)).status_code == 200


@pytest.mark.parametrize("body, errors", [
    ({"user": {"email": "not an address"}}, {"email": ["is invalid"]}),
    ({"user": {"email": "alice@"}}, {"email": ["is invalid"]}),
    ({"user": {"email": "   "}}, {"email": ["can't be blank"]}),
    ({"user": {"email": "a\x00@example.com"}}, {"email": ["is invalid"]}),
    ({"user": {"email": 42}}, {"email": ["must be a string"]}),
    ({"user": {}}, {"email": ["can't be blank"]}),
    ({"email": "alice@example.com"}, {"body": ["must be a JSON object with an object 'user'"]}),
])
async def test_a_malformed_request_is_422_and_sends_nothing(app, client, mailbox, body, errors):
    await register(client, "alice")
    response = await client.post(REQUEST, json=body)
    assert response.status_code == 422
    assert await errors_of(response) == errors
    assert await drain(app) == 0


async def test_a_bad_token_or_password_changes_nothing(app, client, db_session, mailbox):
    alice = await register(client, "alice")
    await ask(client, "alice@example.com")
    token = await mailed_token(app, mailbox, "alice@example.com")

    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for bad in (forged, "nonsense", "0" * 32 + ".x", "x" * 200):
        response = await confirm(client, bad)
        assert response.status_code == 422, bad
        assert list(await errors_of(response)) == ["token"]
    too_long = await confirm(client, "x" * 201)
    assert too_long.status_code == 422 and list(await errors_of(too_long)) == ["token"]
    blank = await confirm(client, "")
    assert await errors_of(blank) == {"token": ["can't be blank"]}

    short = await confirm(client, token, "short")
    assert short.status_code == 422
    assert await errors_of(short) == {"password": ["is too short (minimum is 8 characters)"]}
    empty = await confirm(client, token, "")
    assert await errors_of(empty) == {"password": ["can't be blank"]}
    missing = await client.post(CONFIRM, json={"user": {"token": token}})
    assert missing.status_code == 422 and "password" in await errors_of(missing)

    # nothing changed: the old password and token still work, and so does the link
    assert (await client.get("/api/user", headers=alice.headers)).status_code == 200
    assert (await log_in(client, "alice@example.com", PASSWORD)).status_code == 200
    assert (await confirm(client, token)).status_code == 200


async def test_an_expired_link_is_refused(app, client, db_session, mailbox):
    await register(client, "alice")
    await ask(client, "alice@example.com")
    token = await mailed_token(app, mailbox, "alice@example.com")
    reset = await db_session.scalar(select(PasswordReset))
    reset.expires_at = reset.created_at
    await db_session.commit()
    response = await confirm(client, token)
    assert response.status_code == 422 and list(await errors_of(response)) == ["token"]
    assert (await log_in(client, "alice@example.com", PASSWORD)).status_code == 200


async def test_a_new_password_voids_the_other_links(app, client, mailbox):
    await register(client, "alice")
    await ask(client, "alice@example.com")
    first = await mailed_token(app, mailbox, "alice@example.com", 1)
    await ask(client, "alice@example.com")
    second = await mailed_token(app, mailbox, "alice@example.com", 2)
    assert first != second
    assert (await confirm(client, second)).status_code == 200
    assert (await confirm(client, first, "another new passphrase")).status_code == 422


@pytest.mark.parametrize("app_config", [{"AUTH_RATE_LIMIT_PER_MINUTE": 2}], indirect=True)
async def test_asking_and_confirming_are_rate_limited_like_log_in(client, app_config):
    statuses = [(await ask(client, "nobody@example.com")).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    limited = await ask(client, "nobody@example.com")
    assert int(limited.headers["Retry-After"]) > 0
    statuses = [(await confirm(client, "nonsense")).status_code for _ in range(3)]
    assert statuses == [422, 422, 429]


async def test_the_endpoints_are_in_the_openapi_document(client):
    paths = (await (await client.get("/api/openapi.json")).get_json())["paths"]
    assert "post" in paths[REQUEST] and "post" in paths[CONFIRM]
    assert "post" in paths["/api/admin/users/{username}/password-reset"]


# --- the admin sends a link ---------------------------------------------------------------

@pytest.fixture
async def people(client, db_session):
    people = {name: await register(client, name) for name in ("root", "alice", "rita", "dina")}
    await db_session.execute(update(User).where(User.username == "root").values(role=Role.ADMIN))
    await db_session.execute(update(User).where(User.username == "rita").values(role=Role.READER))
    await db_session.execute(update(User).where(User.username == "dina").values(disabled=True))
    await db_session.commit()
    return people


async def test_an_admin_mails_a_user_a_link(app, client, db_session, mailbox, people):
    response = await client.post("/api/admin/users/alice/password-reset", headers=people["root"].headers)
    assert response.status_code == 202
    user = (await response.get_json())["user"]
    assert user["username"] == "alice" and user["email"] == "alice@example.com"

    token = await mailed_token(app, mailbox, "alice@example.com")
    assert [m["To"] for m in mailbox.messages] == ["alice@example.com"]
    assert (await confirm(client, token)).status_code == 200
    assert (await client.get("/api/user", headers=people["alice"].headers)).status_code == 401
    assert (await log_in(client, "alice@example.com", NEW_PASSWORD)).status_code == 200
    await db_session.rollback()
    entry = await db_session.scalar(select(AuditEntry).where(AuditEntry.action == "user.password_reset"))
    assert entry is not None and entry.target == "user:alice"


@pytest.mark.parametrize("who, status", [("anonymous", 401), ("rita", 403), ("alice", 403), ("dina", 401)])
async def test_only_admins_send_links(app, client, db_session, mailbox, people, who, status):
    headers = {} if who == "anonymous" else people[who].headers
    for target in ("alice", "nobody"):  # an unknown name is refused alike: nothing leaks
        response = await client.post(f"/api/admin/users/{target}/password-reset", headers=headers)
        assert response.status_code == status
    assert await drain(app) == 0
    await db_session.rollback()
    assert await db_session.scalar(select(func.count()).select_from(PasswordReset)) == 0


async def test_no_link_for_an_unknown_or_disabled_account(app, client, db_session, mailbox, people):
    unknown = await client.post("/api/admin/users/nobody/password-reset", headers=people["root"].headers)
    assert unknown.status_code == 404
    disabled = await client.post("/api/admin/users/dina/password-reset", headers=people["root"].headers)
    assert disabled.status_code == 422
    assert await errors_of(disabled) == {"username": ["a disabled account gets no reset link: enable it first"]}
    assert await drain(app) == 0
    await db_session.rollback()
    assert await db_session.scalar(select(func.count()).select_from(AuditEntry)) == 0
