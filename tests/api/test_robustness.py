"""Whatever a client sends, the answer is never a 500."""

from __future__ import annotations

import pytest

from .conftest import write_article

WEIRD_BODIES = [
    b"", b"null", b"[]", b"42", b'"text"', b"{", b"NaN", b'{"a": 1e999}', b"\xff\xfe\x00",
    b'{"article": null, "user": null, "comment": null}',
    b'{"article": [], "user": "x", "comment": 5}',
    b'{"article": {"title": "\\ud800", "description": "d", "body": "b"}}',
    b'{"article": {"title": "t\\u0000", "description": "\\u0000", "body": "\\u0000", "tagList": ["\\u0000"]}}',
    b'{"user": {"email": "a@b.c", "password": "' + b"p" * 10_000 + b'", "username": "u"}}',
    b'{"article": {"title": "t", "description": "d", "body": "b", "tagList": ' + b'["t"]' * 1 + b"}}",
    b"[" * 5000 + b"]" * 5000,
    b'{"comment": {"body": {"nested": true}}, "user": {"bio": 1, "image": false}}',
]


@pytest.mark.parametrize("body", WEIRD_BODIES)
async def test_weird_bodies_are_refused_politely(client, alice, body):
    article = await write_article(client, alice, "Target")
    slug = article["slug"]
    for method, path in [("POST", "/api/users"), ("POST", "/api/users/login"), ("PUT", "/api/user"),
                         ("POST", "/api/articles"), ("PUT", f"/api/articles/{slug}"),
                         ("POST", f"/api/articles/{slug}/comments")]:
        response = await client.open(path, method=method, data=body, headers={
            **alice.headers, "Content-Type": "application/json"})
        assert response.status_code < 500, (method, path, await response.get_data(as_text=True))


@pytest.mark.parametrize("path", [
    "/api/articles/" + "x" * 5000, "/api/articles/%00", "/api/profiles/%F0%9F%98%80",
    "/api/profiles/" + "é" * 300, "/api/articles?tag=%00&author=" + "a" * 5000,
    "/api/articles?favorited=%F0%9F%98%80&offset=999999999", "/api/articles/x/comments/0",
    "/api/articles/x/comments/-1", "/api/articles/x/comments/abc", "/api/nothing-here",
])
async def test_weird_urls_are_answered_without_errors(client, alice, path):
    for headers in ({}, alice.headers):
        response = await client.get(path, headers=headers)
        assert response.status_code < 500, path
        assert response.content_type == "application/json"
