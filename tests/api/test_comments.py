"""Comments on articles."""

from __future__ import annotations

import pytest

from .conftest import TIMESTAMP, errors_of, write_article


async def test_comment_list_and_delete(client, alice, bob):
    article = await write_article(client, alice, "Talk to me")
    comments_url = f"/api/articles/{article['slug']}/comments"

    first = await client.post(comments_url, headers=bob.headers, json={"comment": {"body": "First!"}})
    assert first.status_code == 200
    comment = (await first.get_json())["comment"]
    assert comment["body"] == "First!" and isinstance(comment["id"], int)
    assert TIMESTAMP.match(comment["createdAt"]) and TIMESTAMP.match(comment["updatedAt"])
    assert comment["author"] == {"username": "bob", "bio": "", "image": None, "following": False}
    await client.post(comments_url, headers=alice.headers, json={"comment": {"body": "Thanks"}})

    await client.post("/api/profiles/bob/follow", headers=alice.headers)
    listed = await client.get(comments_url, headers=alice.headers)
    assert listed.status_code == 200
    comments = (await listed.get_json())["comments"]
    assert [c["body"] for c in comments] == ["First!", "Thanks"]
    assert [c["author"]["following"] for c in comments] == [True, False]

    anonymous = await client.get(comments_url)
    assert [c["author"]["following"] for c in (await anonymous.get_json())["comments"]] == [False, False]

    deleted = await client.delete(f"{comments_url}/{comment['id']}", headers=bob.headers)
    assert deleted.status_code == 204 and await deleted.get_data() == b""
    remaining = (await (await client.get(comments_url)).get_json())["comments"]
    assert [c["body"] for c in remaining] == ["Thanks"]


async def test_only_the_author_may_delete_a_comment(client, alice, bob):
    article = await write_article(client, alice, "Mine")
    url = f"/api/articles/{article['slug']}/comments"
    created = await client.post(url, headers=alice.headers, json={"comment": {"body": "Keep me"}})
    comment_id = (await created.get_json())["comment"]["id"]

    response = await client.delete(f"{url}/{comment_id}", headers=bob.headers)
    assert response.status_code == 403
    assert "body" in await errors_of(response)
    assert len((await (await client.get(url)).get_json())["comments"]) == 1


@pytest.mark.parametrize("path", ["/api/articles/{slug}/comments/999999",
                                  "/api/articles/{slug}/comments/99999999999999999999",
                                  "/api/articles/no-such-article/comments/{id}"])
async def test_unknown_comments_and_articles_are_404(client, alice, path):
    article = await write_article(client, alice, "Here")
    created = await client.post(f"/api/articles/{article['slug']}/comments", headers=alice.headers,
                                json={"comment": {"body": "Hi"}})
    comment_id = (await created.get_json())["comment"]["id"]
    response = await client.delete(path.format(slug=article["slug"], id=comment_id), headers=alice.headers)
    assert response.status_code == 404


async def test_comments_on_an_unknown_article_are_404(client, alice):
    assert (await client.get("/api/articles/nope/comments")).status_code == 404
    response = await client.post("/api/articles/nope/comments", headers=alice.headers,
                                 json={"comment": {"body": "Hi"}})
    assert response.status_code == 404


@pytest.mark.parametrize("body, field, message", [
    ({"comment": {"body": ""}}, "body", "can't be blank"),
    ({"comment": {}}, "body", "can't be blank"),
    ({"comment": {"body": 1}}, "body", "must be a string"),
    ({"comment": {"body": "x" * 10_001}}, "body", "is too long (maximum is 10000 characters)"),
    ({"body": "no wrapper"}, "body", "must be a JSON object with an object 'comment'"),
])
async def test_invalid_comments_are_422(client, alice, body, field, message):
    article = await write_article(client, alice, "Quiet")
    url = f"/api/articles/{article['slug']}/comments"
    response = await client.post(url, headers=alice.headers, json=body)
    assert response.status_code == 422
    assert message in (await errors_of(response))[field]
    assert (await (await client.get(url)).get_json())["comments"] == []


async def test_commenting_needs_a_token(client, alice):
    article = await write_article(client, alice, "Open")
    url = f"/api/articles/{article['slug']}/comments"
    assert (await client.post(url, json={"comment": {"body": "Hi"}})).status_code == 401
    assert (await client.delete(f"{url}/1")).status_code == 401
