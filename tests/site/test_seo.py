"""What search engines, feed readers and link previews read: the sitemap, robots.txt,
canonical links, OpenGraph/Twitter meta, JSON-LD and the Atom feeds (RFC 4287)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from quartblog.services import posts

from ..factories import make_post, make_user

SITE = "https://blog.example.com/journal"
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
pytestmark = pytest.mark.parametrize("app_config", [{"SITE_URL": SITE}])


async def _blog(db_session):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "With a picture", tags="photos",
                    body="Intro.\n\n![A cat](/static/cat.png \"cat\")\n\n![Second](https://img.example.org/2.png)")
    await make_post(db_session, ada, "Plain words", body="Just *text* & more.", description="About words")
    await posts.create_post(db_session, ada, title="Hidden draft", description=None, body="x",
                            tags="draft-only", status="draft")
    await db_session.commit()


async def test_the_sitemap_lists_public_posts_tags_and_authors_with_lastmod(client, db_session):
    await _blog(db_session)
    response = await client.get("/sitemap.xml")
    assert response.status_code == 200 and response.content_type.startswith("application/xml")
    root = ET.fromstring(await response.get_data())
    assert root.tag == f"{SITEMAP}urlset"
    entries = {url.findtext(f"{SITEMAP}loc"): url.findtext(f"{SITEMAP}lastmod") for url in root}
    assert set(entries) == {f"{SITE}/", f"{SITE}/posts/with-a-picture", f"{SITE}/posts/plain-words",
                            f"{SITE}/tags/photos", f"{SITE}/users/ada"}
    for loc, lastmod in entries.items():
        assert datetime.fromisoformat(lastmod).tzinfo is not None, loc  # W3C datetime with zone


async def test_robots_txt_points_to_the_sitemap(client):
    response = await client.get("/robots.txt")
    text = await response.get_data(as_text=True)
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    assert text.startswith("User-agent: *\n")
    assert f"Sitemap: {SITE}/sitemap.xml" in text.splitlines()
    assert "Disallow: /drafts" in text and "Disallow: /write" in text


async def test_pages_carry_a_canonical_link_without_stray_arguments(client, db_session):
    await _blog(db_session)
    for url, canonical in [("/", f"{SITE}/"), ("/?utm_source=x", f"{SITE}/"),
                           ("/?page=1", f"{SITE}/"), ("/?page=2&ref=y", f"{SITE}/?page=2"),
                           ("/posts/plain-words?fbclid=1", f"{SITE}/posts/plain-words"),
                           ("/tags/photos", f"{SITE}/tags/photos"), ("/users/ada", f"{SITE}/users/ada")]:
        text = await (await client.get(url)).get_data(as_text=True)
        assert f'<link rel="canonical" href="{canonical}">' in text, url


async def test_a_post_page_has_opengraph_twitter_and_json_ld(client, db_session):
    await _blog(db_session)
    text = await (await client.get("/posts/with-a-picture")).get_data(as_text=True)
    meta = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">', text))
    assert meta["og:type"] == "article" and meta["og:title"] == "With a picture"
    assert meta["og:url"] == f"{SITE}/posts/with-a-picture"
    assert meta["og:image"] == "https://blog.example.com/static/cat.png"  # the first image, absolute
    assert meta["og:description"] == meta["twitter:description"] == "Intro."
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["article:tag"] == "photos"
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.S).group(1))
    assert data["@type"] == "BlogPosting" and data["headline"] == "With a picture"
    assert data["url"] == f"{SITE}/posts/with-a-picture"
    assert data["author"] == {"@type": "Person", "name": "ada", "url": f"{SITE}/users/ada"}
    assert datetime.fromisoformat(data["datePublished"]) <= datetime.fromisoformat(data["dateModified"])
    assert data["image"] == "https://blog.example.com/static/cat.png"

    plain = await (await client.get("/posts/plain-words")).get_data(as_text=True)
    assert 'og:image' not in plain and '<meta name="twitter:card" content="summary">' in plain
    assert '"description": "About words"' in plain or '"description":"About words"' in plain


async def test_json_ld_cannot_be_broken_out_of_by_a_title(client, db_session):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "</script><script>alert(1)</script>")
    text = await (await client.get("/posts/script-script-alert-1-script")).get_data(as_text=True)
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.S).group(1)
    assert json.loads(block)["headline"] == "</script><script>alert(1)</script>"
    assert "<script>alert(1)" not in text


def _check_atom(document: bytes) -> ET.Element:
    """RFC 4287's rules for a feed and its entries (section 4.1)."""
    feed = ET.fromstring(document)
    assert feed.tag == f"{ATOM}feed"

    def one(parent, name):
        found = parent.findall(f"{ATOM}{name}")
        assert len(found) == 1, f"{name}: {len(found)}"
        return found[0]

    for name in ("id", "title", "updated"):
        one(feed, name)
    assert any(link.get("rel") == "self" for link in feed.findall(f"{ATOM}link"))
    datetime.fromisoformat(one(feed, "updated").text)
    feed_has_author = feed.find(f"{ATOM}author") is not None
    for entry in feed.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            one(entry, name)
        assert re.match(r"^[a-z]+:", one(entry, "id").text)  # an IRI
        for name in ("updated", "published"):
            stamp = one(entry, name).text
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", stamp), stamp
        assert feed_has_author or entry.find(f"{ATOM}author/{ATOM}name") is not None
        content = one(entry, "content")
        alternate = [link for link in entry.findall(f"{ATOM}link") if link.get("rel", "alternate") == "alternate"]
        assert content is not None or alternate
        assert len({(link.get("type"), link.get("hreflang")) for link in alternate}) == len(alternate)
    return feed


async def test_atom_feeds_validate_and_carry_the_full_content_and_update_time(client, db_session):
    await _blog(db_session)
    for url in ("/feed.atom", "/tags/photos/feed.atom", "/users/ada/feed.atom"):
        response = await client.get(url)
        assert response.status_code == 200
        feed = _check_atom(await response.get_data())
        assert feed.findtext(f"{ATOM}id").startswith(SITE)
    feed = _check_atom(await (await client.get("/feed.atom")).get_data())
    entries = {e.findtext(f"{ATOM}title"): e for e in feed.findall(f"{ATOM}entry")}
    assert set(entries) == {"With a picture", "Plain words"}  # no draft
    content = entries["Plain words"].find(f"{ATOM}content")
    assert content.get("type") == "html" and "<em>text</em> &amp; more." in content.text
    view = await posts.get_post_view(db_session, "plain-words")
    assert datetime.fromisoformat(entries["Plain words"].findtext(f"{ATOM}updated")) == view.post.updated_at


async def test_canonical_urls_use_the_request_host_without_site_url(app, client, db_session):
    app.config["SITE_URL"] = None
    text = await (await client.get("/", headers={"Host": "local.test"})).get_data(as_text=True)
    assert '<link rel="canonical" href="http://local.test/">' in text
