"""Bad input on the API is a 4xx in the contract's shape, never a 500 (issue 22, finding 1);
the sweep of every route is tests/test_bad_input.py, these are the cases it found."""

from __future__ import annotations

import pytest

from .conftest import errors_of


@pytest.mark.parametrize("email", ["\x00", "alice\x00@example.com", "alice@example.com\x1b"])
async def test_a_log_in_email_with_control_characters_is_422(client, alice, email):
    response = await client.post("/api/users/login", json={"user": {"email": email, "password": "whatever it is"}})
    assert response.status_code == 422
    assert await errors_of(response) == {"email": ["must not contain control characters or line breaks"]}


@pytest.mark.parametrize("path", ["/api/articles", "/api/articles/feed", "/api/user/drafts"])
@pytest.mark.parametrize("offset", ["99999999999999999999", "1000000001", "-1"])
async def test_an_offset_past_any_list_is_422(client, alice, path, offset):
    response = await client.get(f"{path}?offset={offset}", headers=alice.headers)
    assert response.status_code == 422
    assert list(await errors_of(response)) == ["offset"]
