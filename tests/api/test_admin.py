"""The API's extensions: comment moderation and the admin's users, roles, disabled and
deleted accounts.  Who may (every role, a disabled account's token too), bad input,
two admins at once, and a users list of 10,000 paged in a constant number of statements."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import bindparam, false, func, insert, literal_column, select, update

from quartblog.models import AuditEntry, Comment, CommentState, Post, Role, User
from quartblog.types import UTCDateTime, utcnow

from ..site.conftest import Browser
from .conftest import PASSWORD, errors_of, register, write_article

ROLES = ["anonymous", "reader", "author", "other", "admin", "disabled"]


async def _count(db_session, model, *where) -> int:
    await db_session.rollback()
    return await db_session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
async def crowd(client, db_session):
    """rita (reader), ada (author of the article), otto (author), root (admin), dina
    (disabled after she got her token); rita's comment on ada's article, and otto's
    held for approval."""
    people = {role: await register(client, name) for role, name in
              [("reader", "rita"), ("author", "ada"), ("other", "otto"), ("admin", "root"), ("disabled", "dina")]}
    article = await write_article(client, people["author"], "The post")
    ids = {}
    for who, body in (("reader", "Hello"), ("other", "Held one")):
        response = await client.post(f"/api/articles/{article['slug']}/comments", headers=people[who].headers,
                                     json={"comment": {"body": body}})
        ids[who] = (await response.get_json())["comment"]["id"]
    await db_session.execute(update(User).where(User.username == "rita").values(role=Role.READER))
    await db_session.execute(update(User).where(User.username == "root").values(role=Role.ADMIN))
    await db_session.execute(update(User).where(User.username == "dina").values(disabled=True))
    await db_session.execute(update(Comment).where(Comment.id == ids["other"]).values(state=CommentState.PENDING))
    await db_session.commit()
    return {"people": people, "slug": article["slug"], "shown": ids["reader"], "held": ids["other"]}


def _headers(crowd, who):
    return {} if who == "anonymous" else crowd["people"][who].headers


async def _comment_state(db_session, comment_id):
    await db_session.rollback()
    return await db_session.scalar(select(Comment.state).where(Comment.id == comment_id))


MODERATORS = {"author", "admin"}
ADMINS = {"admin"}
ACTIONS = {
    "hide": ("POST", "/api/articles/{slug}/comments/{shown}/hide", None, MODERATORS, 200,
             lambda db, c: _comment_state(db, c["shown"])),
    "unhide": ("POST", "/api/articles/{slug}/comments/{shown}/unhide", None, MODERATORS, 200,
               lambda db, c: _count(db, AuditEntry)),
    "approve": ("POST", "/api/articles/{slug}/comments/{held}/approve", None, MODERATORS, 200,
                lambda db, c: _comment_state(db, c["held"])),
    "delete rita's comment": ("DELETE", "/api/articles/{slug}/comments/{shown}", None, MODERATORS | {"reader"},
                              204, lambda db, c: _count(db, Comment)),
    "list users": ("GET", "/api/admin/users", None, ADMINS, 200, None),
    "change a role": ("PUT", "/api/admin/users/otto", {"user": {"role": "reader"}}, ADMINS, 200,
                      lambda db, c: _count(db, User, User.role == Role.READER)),
    "disable": ("PUT", "/api/admin/users/otto", {"user": {"disabled": True}}, ADMINS, 200,
                lambda db, c: _count(db, User, User.disabled.is_(True))),
    "delete an account": ("DELETE", "/api/admin/users/otto?posts=delete", None, ADMINS, 204,
                          lambda db, c: _count(db, User)),
}


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("name", list(ACTIONS))
async def test_permission_matrix(name, who, client, crowd, db_session):
    method, url, body, allowed, success, check = ACTIONS[name]
    before = await check(db_session, crowd) if check else None
    response = await client.open(url.format(**crowd), method=method, headers=_headers(crowd, who), json=body)
    after = await check(db_session, crowd) if check else None
    if who == "anonymous":
        assert response.status_code == 401
    elif who == "disabled":
        assert response.status_code == 401
        assert "disabled" in str(await errors_of(response))
    elif who in allowed:
        assert response.status_code == success, await response.get_data(as_text=True)
        if check and name != "unhide":
            assert after != before
        return
    elif (name, who) == ("approve", "reader"):  # otto's held comment: rita may not see it
        assert response.status_code == 404, response.status_code
    else:
        assert response.status_code == 403, response.status_code
    assert after == before


async def test_readers_see_published_comments_moderators_see_all_with_their_state(client, crowd):
    url = f"/api/articles/{crowd['slug']}/comments"
    await client.post(f"{url}/{crowd['shown']}/hide", headers=_headers(crowd, "author"))
    anonymous = (await (await client.get(url)).get_json())["comments"]
    assert anonymous == []
    otto = (await (await client.get(url, headers=_headers(crowd, "other"))).get_json())["comments"]
    assert [(c["body"], c["state"]) for c in otto] == [("Held one", "pending")]  # his own, waiting
    for who in ("author", "admin"):
        seen = (await (await client.get(url, headers=_headers(crowd, who))).get_json())["comments"]
        assert [(c["body"], c["state"]) for c in seen] == [("Hello", "hidden"), ("Held one", "pending")]
    approved = await client.post(f"{url}/{crowd['held']}/approve", headers=_headers(crowd, "author"))
    assert (await approved.get_json())["comment"]["state"] == "published"
    again = await client.post(f"{url}/{crowd['held']}/approve", headers=_headers(crowd, "author"))
    assert again.status_code == 422 and "is not waiting for approval" in (await errors_of(again))["comment"]
    assert [c["body"] for c in (await (await client.get(url)).get_json())["comments"]] == ["Held one"]


async def test_a_disabled_account_cannot_log_in_and_an_enabled_one_can_again(client, crowd):
    login = {"user": {"email": "dina@example.com", "password": PASSWORD}}
    assert (await client.post("/api/users/login", json=login)).status_code == 401
    response = await client.put("/api/admin/users/dina", headers=_headers(crowd, "admin"),
                                json={"user": {"disabled": False}})
    assert (await response.get_json())["user"]["disabled"] is False
    assert (await client.post("/api/users/login", json=login)).status_code == 200
    assert (await client.get("/api/user", headers=_headers(crowd, "disabled"))).status_code == 200


@pytest.mark.parametrize("method, url, body, status, field, message", [
    ("PUT", "/api/admin/users/otto", {"user": {}}, 422, "user", "must contain role or disabled"),
    ("PUT", "/api/admin/users/otto", {"user": {"role": "king"}}, 422, "role", ""),
    ("PUT", "/api/admin/users/otto", {"user": {"role": "reader", "disabled": "maybe"}}, 422, "disabled", ""),
    ("PUT", "/api/admin/users/root", {"user": {"disabled": True}}, 422, "disabled", "you cannot disable your own account"),
    ("PUT", "/api/admin/users/root", {"user": {"role": "author"}}, 422, "role", "the last admin cannot step down"),
    ("PUT", "/api/admin/users/nobody", {"user": {"role": "author"}}, 404, "body", ""),
    ("PUT", "/api/admin/users/deleted-user", {"user": {"role": "author"}}, 404, "body", ""),
    ("DELETE", "/api/admin/users/otto", None, 422, "posts", ""),
    ("DELETE", "/api/admin/users/otto?posts=later", None, 422, "posts", ""),
    ("DELETE", "/api/admin/users/root?posts=keep", None, 422, "username", "delete your own account from your settings"),
    ("GET", "/api/admin/users?limit=0", None, 422, "limit", ""),
    ("GET", "/api/admin/users?limit=101", None, 422, "limit", ""),
])
async def test_bad_input_is_a_clear_4xx_and_changes_nothing(method, url, body, status, field, message,
                                                            client, crowd, db_session):
    before = [await _count(db_session, User), await _count(db_session, User, User.role == Role.READER),
              await _count(db_session, User, User.disabled.is_(True)), await _count(db_session, AuditEntry)]
    response = await client.open(url, method=method, headers=_headers(crowd, "admin"), json=body)
    assert response.status_code == status
    errors = await errors_of(response)
    assert field in errors and any(message in m for m in errors[field]), errors
    after = [await _count(db_session, User), await _count(db_session, User, User.role == Role.READER),
             await _count(db_session, User, User.disabled.is_(True)), await _count(db_session, AuditEntry)]
    assert after == before


async def test_a_role_and_the_disabled_flag_change_together_or_not_at_all(client, crowd, db_session):
    """PUT with a role and disabled for yourself: refused (once root is an author, he may not
    disable anyone), and the role change is not kept either."""
    await db_session.execute(update(User).where(User.username == "ada").values(role=Role.ADMIN))
    await db_session.commit()
    response = await client.put("/api/admin/users/root", headers=_headers(crowd, "admin"),
                                json={"user": {"role": "author", "disabled": True}})
    assert response.status_code == 403
    assert await _count(db_session, User, User.username == "root", User.role == Role.ADMIN) == 1


@pytest.mark.parametrize("posts", ["keep", "delete"])
async def test_deleting_an_account_keeps_or_deletes_its_posts(posts, client, crowd, db_session):
    response = await client.delete(f"/api/admin/users/ada?posts={posts}", headers=_headers(crowd, "admin"))
    assert response.status_code == 204
    article = await client.get(f"/api/articles/{crowd['slug']}")
    if posts == "keep":
        assert (await article.get_json())["article"]["author"]["username"] == "deleted-user"
        assert await _count(db_session, Comment) == 2
        # the placeholder cannot be signed in to, registered, or deleted
        assert await _count(db_session, User, User.username == "deleted-user", User.disabled.is_(True)) == 1
        taken = await client.post("/api/users", json={"user": {"username": "Deleted-User",
                                                               "email": "x@example.com", "password": PASSWORD}})
        assert taken.status_code == 422
        placeholder = await client.delete("/api/admin/users/deleted-user?posts=delete", headers=_headers(crowd, "admin"))
        assert placeholder.status_code == 422
    else:
        assert article.status_code == 404
        assert await _count(db_session, Post) == 0
    assert (await client.get("/api/user", headers=_headers(crowd, "author"))).status_code == 401
    entry = (await db_session.execute(select(AuditEntry.actor_name, AuditEntry.action, AuditEntry.target))).all()
    assert entry == [("root", "user.delete", "user:ada")]


async def test_two_admins_disabling_each_other_at_once_leave_one_admin(client, crowd, db_session):
    await db_session.execute(update(User).where(User.username == "ada").values(role=Role.ADMIN))
    await db_session.commit()
    ada, root = crowd["people"]["author"], crowd["people"]["admin"]
    responses = await asyncio.gather(
        client.put("/api/admin/users/root", headers=ada.headers, json={"user": {"disabled": True}}),
        client.put("/api/admin/users/ada", headers=root.headers, json={"user": {"disabled": True}}),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200 and statuses[1] in (401, 403), statuses
    assert await _count(db_session, User, User.role == Role.ADMIN, User.disabled.is_(False)) == 1


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(client, crowd, db_session):
    await db_session.execute(update(User).where(User.username == "ada").values(role=Role.ADMIN))
    await db_session.commit()
    ada, root = crowd["people"]["author"], crowd["people"]["admin"]
    responses = await asyncio.gather(
        client.put("/api/admin/users/root", headers=ada.headers, json={"user": {"role": "reader"}}),
        client.put("/api/admin/users/ada", headers=root.headers, json={"user": {"role": "reader"}}),
    )
    assert sorted(r.status_code for r in responses) == [200, 403]
    assert await _count(db_session, User, User.role == Role.ADMIN) == 1


async def test_ten_thousand_users_are_paged_in_a_constant_number_of_statements(client, crowd, db_session,
                                                                               count_statements):
    # Seeded in bulk: one INSERT of many rows (not through the service: no password hashing).
    rows = [{"username": f"user{i:05d}", "email": f"user{i:05d}@example.com"} for i in range(10_000)]
    await _bulk_users(db_session, rows)
    headers = _headers(crowd, "admin")
    seen, counts = [], []
    offset = 0
    while True:
        with count_statements() as counter:
            response = await client.get(f"/api/admin/users?limit=100&offset={offset}&q=user", headers=headers)
        page = await response.get_json()
        assert response.status_code == 200 and page["usersCount"] == 10_000
        if not page["users"]:
            break
        counts.append(counter.count)
        seen += [u["username"] for u in page["users"]]
        offset += 100
    assert seen == [row["username"] for row in rows]
    assert set(counts) == {3}, set(counts)  # the token's user, the count, the page
    # The site's admin pages too: the first and the last page cost the same.
    site_counts = []
    browser = Browser(client)
    await browser.log_in("root")
    for page_number in (1, 2, 101, 201):
        with count_statements() as counter:
            page = await browser.get(f"/admin/users?page={page_number}")
        assert page.status == 200
        site_counts.append(counter.count)
    assert len(set(site_counts)) == 1, site_counts


async def _bulk_users(db_session, rows):
    """One multi-row INSERT; the columns every row shares are SQL literals or one shared
    parameter, so 10,000 rows stay within every driver's limit of bound parameters."""
    seeded_at = bindparam("seeded_at", utcnow(), type_=UTCDateTime())
    values = [{"username": r["username"], "email": r["email"], "password_hash": literal_column("'!'"),
               "role": literal_column("'reader'"), "disabled": false(), "created_at": seeded_at} for r in rows]
    await db_session.execute(insert(User).values(values))
    await db_session.commit()
