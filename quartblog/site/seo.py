"""What search engines and link previews read: ``/sitemap.xml``, ``/robots.txt``,
the canonical link of every page, and a post's OpenGraph/Twitter meta and JSON-LD
``BlogPosting``.  Absolute URLs come from ``SITE_URL`` (``quartblog/routing.py``)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from quart import current_app, render_template, request, url_for

from ..db import get_session
from ..text.markdown import render_markdown
from ..web.response_cache import cache_response
from ..services.posts import PostView
from ..services.sitemap import sitemap_entries
from . import blueprint

SITEMAP_TYPE = "application/xml; charset=utf-8"
# Query arguments that make another page of the same content (others are left out).
CANONICAL_ARGS = ("page", "q")
_FIRST_IMAGE = re.compile(r'<img\b[^>]*?\bsrc="([^"]+)"')


@blueprint.get("/sitemap.xml")
@cache_response
async def sitemap():
    entries = await sitemap_entries(get_session())
    xml = await render_template("feeds/sitemap.xml", entries=entries)
    return xml, 200, {"Content-Type": SITEMAP_TYPE}


# Pages for people, not for indexes: forms, personal pages, the API.
ROBOTS_DISALLOW = ("/write", "/drafts", "/feed", "/settings", "/admin", "/login", "/register",
                   "/api/")


@blueprint.get("/robots.txt")
@cache_response
async def robots():
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW), "",
             f"Sitemap: {url_for('site.sitemap', _external=True)}", ""]
    return "\n".join(lines), 200, {"Content-Type": "text/plain; charset=utf-8"}


@blueprint.app_template_global()
def canonical_url() -> str | None:
    """This page's absolute URL without tracking or other arguments (the page number and
    a search's words kept); None outside a page of the site."""
    if request.endpoint is None or not request.endpoint.startswith("site.") or request.method != "GET":
        return None
    args = {name: request.args[name] for name in CANONICAL_ARGS if request.args.get(name)}
    if args.get("page") == "1":
        args.pop("page")
    return url_for(request.endpoint, **(request.view_args or {}), **args, _external=True)


def first_image(view: PostView) -> str | None:
    """The absolute URL of the first image of the post's (sanitized) body, if any."""
    found = _FIRST_IMAGE.search(render_markdown(view.post.body or ""))
    if not found:
        return None
    from html import unescape

    return urljoin(url_for("site.index", _external=True), unescape(found.group(1)))


@blueprint.app_template_global()
def post_meta(view: PostView) -> dict[str, Any]:
    """A post's description for previews (OpenGraph, Twitter cards) and its JSON-LD."""
    post = view.post
    url = url_for("site.post", slug=post.slug, _external=True)
    image = first_image(view)
    published = post.published_at or post.created_at
    json_ld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": post.title,
        "description": view.summary,
        "datePublished": published.isoformat(),
        "dateModified": post.updated_at.isoformat(),
        "author": {"@type": "Person", "name": view.author.username,
                   "url": url_for("site.user", username=view.author.username, _external=True)},
        "url": url,
        "mainEntityOfPage": url,
        "publisher": {"@type": "Organization", "name": current_app.config["SITE_NAME"]},
    }
    if view.tags:
        json_ld["keywords"] = ", ".join(view.tags)
    if image:
        json_ld["image"] = image
    return {"url": url, "image": image, "published": published, "json_ld": json_ld}
