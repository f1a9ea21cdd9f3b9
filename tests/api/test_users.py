"""Registration, log-in, the current user and tokens."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest

from tests.conftest import TEST_SECRET

from .conftest import PASSWORD, errors_of, register


async def test_register_answers_201_with_a_token_that_works(client):
    response = await client.post("/api/users", json={
        "user": {"username": "ada", "email": "Ada@Example.com", "password": PASSWORD}})
    assert response.status_code == 201
    user = (await response.get_json())["user"]
    assert user["username"] == "ada" and user["email"] == "ada@example.com"
    assert user["bio"] == "" and user["image"] is None

    me = await client.get("/api/user", headers={"Authorization": f"Token {user['token']}"})
    assert me.status_code == 200
    assert (await me.get_json())["user"]["username"] == "ada"


async def test_log_in_with_email_and_password(client, alice):
    response = await client.post("/api/users/login", json={
        "user": {"email": "ALICE@example.com", "password": PASSWORD}})
    assert response.status_code == 200
    user = (await response.get_json())["user"]
    assert user["username"] == "alice" and user["token"]


@pytest.mark.parametrize("email, password", [
    ("alice@example.com", "wrong password"),
    ("nobody@example.com", PASSWORD),
])
async def test_log_in_with_wrong_credentials_is_401(client, alice, email, password):
    response = await client.post("/api/users/login", json={"user": {"email": email, "password": password}})
    assert response.status_code == 401
    assert await errors_of(response) == {"email or password": ["is invalid"]}


async def test_log_in_without_fields_is_422(client):
    response = await client.post("/api/users/login", json={"user": {"email": ""}})
    assert response.status_code == 422
    assert await errors_of(response) == {"email": ["can't be blank"], "password": ["can't be blank"]}


@pytest.mark.parametrize("body, field, message", [
    ({"username": "ada", "email": "ada@example.com", "password": PASSWORD}, "body",
     "must be a JSON object with an object 'user'"),
    ({"user": {"email": "ada@example.com", "password": PASSWORD}}, "username", "can't be blank"),
    ({"user": {"username": "  ", "email": "ada@example.com", "password": PASSWORD}}, "username", "can't be blank"),
    ({"user": {"username": 42, "email": "ada@example.com", "password": PASSWORD}}, "username", "must be a string"),
    ({"user": {"username": "a" * 65, "email": "ada@example.com", "password": PASSWORD}}, "username",
     "is too long (maximum is 64 characters)"),
    ({"user": {"username": "ada", "email": "not an email", "password": PASSWORD}}, "email", "is invalid"),
    ({"user": {"username": "ada", "email": "ada@example.com", "password": "short"}}, "password",
     "is too short (minimum is 8 characters)"),
    ({"user": {"username": "ada", "email": "ada@example.com", "password": ""}}, "password", "can't be blank"),
    (["user"], "body", "must be a JSON object"),
])
async def test_invalid_registrations_are_422_and_create_nobody(client, body, field, message):
    response = await client.post("/api/users", json=body)
    assert response.status_code == 422
    assert message in (await errors_of(response))[field]
    login = await client.post("/api/users/login", json={"user": {"email": "ada@example.com", "password": PASSWORD}})
    assert login.status_code == 401


async def test_a_taken_username_or_email_is_422(client, alice):
    response = await client.post("/api/users", json={
        "user": {"username": "ALICE", "email": "Alice@example.com", "password": PASSWORD}})
    assert response.status_code == 422
    assert await errors_of(response) == {"username": ["has already been taken"],
                                         "email": ["has already been taken"]}


async def test_malformed_json_and_other_content_types_are_422(client):
    malformed = await client.post("/api/users", data='{"user": {', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422
    assert await errors_of(malformed) == {"body": ["must be valid JSON"]}
    form = await client.post("/api/users", form={"username": "ada"})
    assert form.status_code == 422
    assert "body" in await errors_of(form)


async def test_update_user_changes_the_given_fields(client, alice):
    response = await client.put("/api/user", headers=alice.headers, json={"user": {
        "email": "alice2@example.com", "username": "alice2", "bio": "I write.",
        "image": "https://example.com/a.png", "password": "a new long password"}})
    assert response.status_code == 200
    user = (await response.get_json())["user"]
    assert (user["email"], user["username"], user["bio"], user["image"]) == (
        "alice2@example.com", "alice2", "I write.", "https://example.com/a.png")

    login = await client.post("/api/users/login", json={
        "user": {"email": "alice2@example.com", "password": "a new long password"}})
    assert login.status_code == 200
    profile = await client.get("/api/profiles/alice2")
    assert (await profile.get_json())["profile"]["bio"] == "I write."


async def test_update_user_clears_bio_and_image_with_empty_or_null(client, alice):
    await client.put("/api/user", headers=alice.headers, json={"user": {
        "bio": "I write.", "image": "https://example.com/a.png"}})
    response = await client.put("/api/user", headers=alice.headers, json={"user": {"bio": "", "image": None}})
    user = (await response.get_json())["user"]
    assert (user["bio"], user["image"]) == ("", None)


@pytest.mark.parametrize("changes, field, message", [
    ({}, "user", "must contain at least one field"),
    ({"username": "bob"}, "username", "has already been taken"),
    ({"image": "javascript:alert(1)"}, "image", "must be an http(s) URL"),
    ({"bio": ["a list"]}, "bio", "must be a string"),
])
async def test_invalid_updates_are_422_and_change_nothing(client, alice, bob, changes, field, message):
    response = await client.put("/api/user", headers=alice.headers,
                                json={"user": {"bio": "changed?", **changes}} if changes else {"user": {}})
    assert response.status_code == 422
    assert message in (await errors_of(response))[field]
    me = await client.get("/api/user", headers=alice.headers)
    assert (await me.get_json())["user"]["bio"] == ""


def _token(**claims) -> str:
    now = datetime.now(timezone.utc)
    payload = {"sub": "1", "iat": now, "exp": now + timedelta(hours=1), **claims}
    return jwt.encode(payload, TEST_SECRET, algorithm="HS256")


@pytest.mark.parametrize("header", [
    None,
    "",
    "Token",
    "Token ",
    "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "Token not-a-jwt",
    "Token " + jwt.encode({"sub": "1", "exp": 9999999999}, "another secret that is long enough", algorithm="HS256"),
    "Token " + jwt.encode({"sub": "1", "exp": 9999999999}, None, algorithm="none"),
    "Token " + _token(exp=datetime.now(timezone.utc) - timedelta(seconds=1)),
    "Token " + _token(sub="999999"),
    "Token " + _token(sub="99999999999999999999999"),
    "Token " + _token(sub="alice"),
    "Token " + jwt.encode({"sub": "1"}, TEST_SECRET, algorithm="HS256"),  # no expiry
])
async def test_secured_operations_refuse_missing_or_bad_tokens_with_401(client, alice, header):
    headers = {} if header is None else {"Authorization": header}
    for method, path in [("GET", "/api/user"), ("PUT", "/api/user"), ("GET", "/api/articles/feed"),
                         ("POST", "/api/articles"), ("POST", "/api/profiles/alice/follow")]:
        response = await client.open(path, method=method, headers=headers, json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Token"
        assert "body" in await errors_of(response)


async def test_an_expired_token_says_so(client, alice):
    me = await client.get("/api/user", headers=alice.headers)
    claims = jwt.decode(alice.token, options={"verify_signature": False})
    expired = _token(sub=claims["sub"], fp=claims["fp"], exp=datetime.now(timezone.utc) - timedelta(minutes=1))
    response = await client.get("/api/user", headers={"Authorization": f"Token {expired}"})
    assert me.status_code == 200 and response.status_code == 401
    assert await errors_of(response) == {"body": ["token has expired"]}


async def test_tokens_expire_after_the_configured_time(app, client, alice):
    claims = jwt.decode(alice.token, TEST_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == app.config["JWT_EXPIRES_SECONDS"]
    assert jwt.get_unverified_header(alice.token)["alg"] == "HS256"


@pytest.mark.parametrize("app_config", [{"AUTH_RATE_LIMIT_PER_MINUTE": 2}])
async def test_log_in_and_registration_are_rate_limited(client, app_config):
    attempt = {"user": {"email": "nobody@example.com", "password": PASSWORD}}
    statuses = [(await client.post("/api/users/login", json=attempt)).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    limited = await client.post("/api/users/login", json=attempt)
    assert int(limited.headers["Retry-After"]) > 0
    assert "body" in await errors_of(limited)

    await register(client, "ada")
    await register(client, "bea")
    third = await client.post("/api/users", json={
        "user": {"username": "cy", "email": "cy@example.com", "password": PASSWORD}})
    assert third.status_code == 429


@pytest.mark.parametrize("app_config", [{"AUTH_RATE_LIMIT_PER_MINUTE": 0}])
async def test_a_rate_limit_of_zero_turns_it_off(client, app_config):
    attempt = {"user": {"email": "nobody@example.com", "password": "x" * 8}}
    statuses = {(await client.post("/api/users/login", json=attempt)).status_code for _ in range(21)}
    assert statuses == {401}
