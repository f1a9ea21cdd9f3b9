"""Atom 1.0 feeds (RFC 4287): the whole site, a tag, an author; absolute links only.

Every link is made by ``url_for(..., _external=True)``, which uses ``SITE_URL``
(``quartblog/routing.py``), never the request's Host header: feeds are cached and
read by other people.
"""

from __future__ import annotations

from quart import abort, current_app, render_template, request, url_for

from ..db import get_session
from ..text.markdown import render_markdown
from ..services import posts, users
from ..services.posts import PostFilter, PostView
from ..types import utcnow
from ..web.response_cache import cache_response
from . import blueprint
from .i18n import gettext as _

ATOM_TYPE = "application/atom+xml; charset=utf-8"


async def _entries(flt: PostFilter | None = None) -> list[PostView]:
    """The newest posts (one page), bodies included: entries carry the full content."""
    listing = await posts.list_posts(get_session(), flt, limit=current_app.config["POSTS_PER_PAGE"])
    return listing.items


async def _atom(title: str, page_url: str, entries: list[PostView]):
    updated = max((view.post.updated_at for view in entries), default=None) or utcnow()
    self_url = url_for(request.endpoint, **(request.view_args or {}), _external=True)
    xml = await render_template("feeds/atom.xml", title=title, page_url=page_url, self_url=self_url,
                                entries=entries, updated=updated,
                                html_of=render_markdown)  # a str: escaped into the XML
    return xml, 200, {"Content-Type": ATOM_TYPE}


@blueprint.get("/feed.atom")
@cache_response
async def site_feed():
    return await _atom(current_app.config["SITE_NAME"], url_for("site.index", _external=True),
                       await _entries())


@blueprint.get("/tags/<name>/feed.atom")
@cache_response
async def tag_feed(name: str):
    entries = await _entries(PostFilter(tag=name))
    if not entries:
        abort(404, _("No posts are tagged “%(tag)s”.", tag=name))
    return await _atom(_("Posts tagged “%(tag)s”", tag=name) + f" · {current_app.config['SITE_NAME']}",
                       url_for("site.tag", name=name, _external=True), entries)


@blueprint.get("/users/<username>/feed.atom")
@cache_response
async def author_feed(username: str):
    await users.get_user_by_username(get_session(), username)  # 404 for an unknown author
    return await _atom(_("Posts by %(name)s", name=username) + f" · {current_app.config['SITE_NAME']}",
                       url_for("site.user", username=username, _external=True),
                       await _entries(PostFilter(author=username)))
