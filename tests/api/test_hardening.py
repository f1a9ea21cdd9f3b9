"""The API under a hostile test (issue 8): revoked tokens, bounded ids, control
characters, 405 and OPTIONS answers, the OpenAPI document."""

from __future__ import annotations

import pytest

from .conftest import PASSWORD, errors_of, write_article


async def test_a_password_change_revokes_the_tokens_issued_before_it(client, alice):
    old = alice.headers
    assert (await client.get("/api/user", headers=old)).status_code == 200
    changed = await client.put("/api/user", headers=old, json={"user": {"password": "a brand new password"}})
    assert changed.status_code == 200
    new = {"Authorization": f"Token {(await changed.get_json())['user']['token']}"}

    me = await client.get("/api/user", headers=old)
    assert me.status_code == 401 and me.headers["WWW-Authenticate"] == "Token"
    assert "password change" in (await errors_of(me))["body"][0]
    article = {"article": {"title": "Stale", "description": "d", "body": "b", "tagList": []}}
    assert (await client.post("/api/articles", headers=old, json=article)).status_code == 401

    assert (await client.get("/api/user", headers=new)).status_code == 200
    assert (await client.post("/api/articles", headers=new, json=article)).status_code == 201
    logged_in = await client.post("/api/users/login", json={
        "user": {"email": alice.email, "password": "a brand new password"}})
    again = {"Authorization": f"Token {(await logged_in.get_json())['user']['token']}"}
    assert (await client.get("/api/user", headers=again)).status_code == 200


async def test_changing_the_bio_keeps_the_token(client, alice):
    assert (await client.put("/api/user", headers=alice.headers, json={"user": {"bio": "hi"}})).status_code == 200
    assert (await client.get("/api/user", headers=alice.headers)).status_code == 200


@pytest.mark.parametrize("comment_id", ["1180591620717411303424", "2147483648", "0", "-1"])
async def test_a_comment_id_out_of_range_is_404(client, alice, comment_id):
    await write_article(client, alice, "Ids")
    response = await client.delete(f"/api/articles/ids/comments/{comment_id}", headers=alice.headers)
    assert response.status_code == 404
    assert "body" in await errors_of(response)


@pytest.mark.parametrize("field, value", [
    ("title", "Bell\x07"), ("title", "Two\nlines"), ("description", "esc \x1b[2J"),
    ("description", "C1 \x85 inside"), ("body", "NUL \x00"), ("body", "DEL \x7f"),
])
async def test_control_characters_in_articles_are_422(client, alice, field, value):
    article = {"title": "Fine", "description": "fine", "body": "fine", "tagList": [], field: value}
    response = await client.post("/api/articles", headers=alice.headers, json={"article": article})
    assert response.status_code == 422
    assert (await errors_of(response))[field] and "control characters" in (await errors_of(response))[field][0]


async def test_line_breaks_and_tabs_stay_allowed_in_bodies(client, alice):
    article = await write_article(client, alice, "Lines", body="one\r\ntwo\n\tthree")
    assert article["body"] == "one\r\ntwo\n\tthree"
    response = await client.post("/api/articles/lines/comments", headers=alice.headers,
                                 json={"comment": {"body": "a\nb\tc"}})
    assert response.status_code == 200


@pytest.mark.parametrize("path, payload, field", [
    ("/api/articles/talk/comments", {"comment": {"body": "ring \x07 ring"}}, "body"),
    ("/api/user", {"user": {"bio": "CSI \x9b"}}, "bio"),
    ("/api/user", {"user": {"username": "ali\x1bce"}}, "username"),
    ("/api/users", {"user": {"username": "eve\x00", "email": "eve@example.com", "password": PASSWORD}},
     "username"),
])
async def test_control_characters_in_comments_and_profiles_are_422(client, alice, path, payload, field):
    await write_article(client, alice, "Talk")
    method = client.put if path == "/api/user" else client.post
    response = await method(path, headers=alice.headers if path != "/api/users" else {}, json=payload)
    assert response.status_code == 422
    assert "control characters" in (await errors_of(response))[field][0]


def _methods(header: str) -> set[str]:
    return {m.strip() for m in header.split(",")}


async def test_405_on_the_api_says_which_methods_are_allowed(client):
    response = await client.delete("/api/tags")
    assert response.status_code == 405
    assert _methods(response.headers["Allow"]) >= {"GET"} and "DELETE" not in _methods(response.headers["Allow"])
    assert "body" in await errors_of(response)
    response = await client.put("/api/articles/feed")
    assert response.status_code == 405
    assert _methods(response.headers["Allow"]) == {"GET", "HEAD", "OPTIONS"}


async def test_options_on_the_feed_offers_only_what_the_feed_does(client, alice):
    response = await client.options("/api/articles/feed")
    assert response.status_code == 200
    assert _methods(response.headers["Allow"]) == {"GET", "HEAD", "OPTIONS"}
    article = await client.options("/api/articles/some-slug")
    assert _methods(article.headers["Allow"]) == {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}


async def test_the_openapi_document_lists_the_401_of_a_failed_log_in(client):
    document = await (await client.get("/api/openapi.json")).get_json()
    responses = document["paths"]["/api/users/login"]["post"]["responses"]
    assert "401" in responses
    delete_comment = document["paths"]["/api/articles/{slug}/comments/{comment_id}"]["delete"]
    (comment_id,) = [p for p in delete_comment["parameters"] if p["name"] == "comment_id"]
    assert comment_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
