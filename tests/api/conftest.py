"""API fixtures: registered users with tokens, and a few client-side helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest


PASSWORD = "correct horse battery"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@dataclass
class Client:
    """A registered user of the API: their name, token and Authorization header."""

    username: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


async def register(client, username: str, password: str = PASSWORD) -> Client:
    email = f"{username}@example.com"
    response = await client.post("/api/users", json={
        "user": {"username": username, "email": email, "password": password}})
    assert response.status_code == 201, await response.get_data(as_text=True)
    user = (await response.get_json())["user"]
    return Client(username=user["username"], email=user["email"], token=user["token"])


async def write_article(client, author: Client, title: str, *, tags: list[str] | None = None,
                        body: str = "Some *text*.", description: str = "About it") -> dict:
    response = await client.post("/api/articles", headers=author.headers, json={"article": {
        "title": title, "description": description, "body": body, "tagList": tags or []}})
    assert response.status_code == 201, await response.get_data(as_text=True)
    return (await response.get_json())["article"]


async def errors_of(response) -> dict[str, list[str]]:
    """The 422/401/403/404 answer's ``errors`` object."""
    return (await response.get_json())["errors"]


@pytest.fixture
async def alice(client) -> Client:
    return await register(client, "alice")


@pytest.fixture
async def bob(client) -> Client:
    return await register(client, "bob")
