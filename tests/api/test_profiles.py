"""Profiles, following and unfollowing."""

from __future__ import annotations

from .conftest import errors_of


async def test_a_profile_is_public_and_says_whether_the_viewer_follows(client, alice, bob):
    anonymous = await client.get("/api/profiles/alice")
    assert anonymous.status_code == 200
    assert (await anonymous.get_json())["profile"] == {
        "username": "alice", "bio": "", "image": None, "following": False}

    followed = await client.post("/api/profiles/alice/follow", headers=bob.headers)
    assert followed.status_code == 200
    assert (await followed.get_json())["profile"]["following"] is True
    seen_by_bob = await client.get("/api/profiles/alice", headers=bob.headers)
    assert (await seen_by_bob.get_json())["profile"]["following"] is True

    again = await client.post("/api/profiles/alice/follow", headers=bob.headers)
    assert (await again.get_json())["profile"]["following"] is True

    unfollowed = await client.delete("/api/profiles/alice/follow", headers=bob.headers)
    assert unfollowed.status_code == 200
    assert (await unfollowed.get_json())["profile"]["following"] is False
    seen_by_bob = await client.get("/api/profiles/alice", headers=bob.headers)
    assert (await seen_by_bob.get_json())["profile"]["following"] is False


async def test_unknown_users_are_404(client, alice):
    for method, path in [("GET", "/api/profiles/nobody"), ("POST", "/api/profiles/nobody/follow"),
                         ("DELETE", "/api/profiles/nobody/follow")]:
        response = await client.open(path, method=method, headers=alice.headers)
        assert response.status_code == 404, (method, path)
        assert "body" in await errors_of(response)


async def test_following_yourself_is_422(client, alice):
    response = await client.post("/api/profiles/alice/follow", headers=alice.headers)
    assert response.status_code == 422
    assert "profile" in await errors_of(response)


async def test_following_needs_a_token(client, alice):
    assert (await client.post("/api/profiles/alice/follow")).status_code == 401
    assert (await client.delete("/api/profiles/alice/follow")).status_code == 401
