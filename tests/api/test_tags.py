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


async def test_one_rule_for_tag_names_on_every_database(client, alice):
    """NFKC and lower case, then compared code point by code point (services.tags.normalize_tag)."""
    both = await write_article(client, alice, "Coffee", tags=["cafe", "café", "Strasse", "straße"])
    assert both["tagList"] == ["cafe", "café", "strasse", "straße"]
    # Full-width letters and upper case are the same tag as their plain lower-case forms.
    same = await write_article(client, alice, "Wide", tags=["ｆｏｏ", "FOO", "foo"])
    assert same["tagList"] == ["foo"]
    later = await write_article(client, alice, "Naive", tags=["naïve"])
    assert later["tagList"] == ["naïve"]
    await write_article(client, alice, "Plain", tags=["naive"])
    tags = (await (await client.get("/api/tags")).get_json())["tags"]
    assert sorted(tags) == sorted(["cafe", "café", "strasse", "straße", "foo", "naïve", "naive"])
    for name, titles in [("café", ["Coffee"]), ("naive", ["Plain"]), ("naïve", ["Naive"]), ("ＦＯＯ", ["Wide"])]:
        listed = await (await client.get("/api/articles", query_string={"tag": name})).get_json()
        assert [a["title"] for a in listed["articles"]] == titles, name


async def test_a_tag_with_control_characters_is_refused(client, alice):
    response = await client.post("/api/articles", headers=alice.headers, json={"article": {
        "title": "t", "description": "d", "body": "b", "tagList": ["bell\x07"]}})
    assert response.status_code == 422
    assert "control characters" in (await response.get_json())["errors"]["tagList"][0]
