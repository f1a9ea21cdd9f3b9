"""Tags."""

from __future__ import annotations

from .conftest import write_article


async def test_tags_lists_the_tags_in_use_sorted(client, alice):
    empty = await client.get("/api/tags")
    assert empty.status_code == 200 and await empty.get_json() == {"tags": []}

    await write_article(client, alice, "One", tags=["quart", "Python"])
    gone = await write_article(client, alice, "Two", tags=["async", "zebra"])
    await client.delete(f"/api/articles/{gone['slug']}", headers=alice.headers)
    await write_article(client, alice, "Three", tags=["async"])

    response = await client.get("/api/tags", headers={"Authorization": "Token ignored"})
    assert await response.get_json() == {"tags": ["async", "python", "quart"]}
