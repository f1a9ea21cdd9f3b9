"""Reading pages: home, post, tag, author, favorites, your feed, search.

Each page runs a fixed number of statements however much it shows: a post list is
three (see ``services.posts``), the signed-in user one more.
"""

from __future__ import annotations

from typing import Any

from quart import abort, current_app, render_template, request, send_from_directory

from ..db import get_session
from ..web.response_cache import cache_response
from ..services import comments, posts, users
from ..services.sidebar import load_sidebar
from ..web.visits import record_visit
from ..services.posts import PostFilter, PostPage
from . import blueprint
from .helpers import page_window
from .i18n import gettext as _
from .identity import login_required, viewer, viewer_id


async def _list(flt: PostFilter | None = None) -> PostPage:
    """The requested page of a list; beyond its last page, 404 (page 1 of an empty
    list is a page that says so)."""
    limit, offset = page_window()
    listing = await posts.list_posts(get_session(), flt, limit=limit, offset=offset,
                                     viewer_id=viewer_id(), with_body=False)
    if offset and not listing.items:
        abort(404)
    return listing


@blueprint.get("/")
@cache_response
async def index():
    listing = await _list()
    sidebar = await load_sidebar(get_session(), current_app.config["SIDEBAR_SIZE"])
    return await render_template("site/index.html", listing=listing, sidebar=sidebar)


async def render_post(slug: str, *, status: int = 200, **context: Any):
    """The post page; also shown again, with messages, when a comment is refused."""
    session = get_session()
    user = viewer()
    view = await posts.get_post_view(session, slug, viewer_id=viewer_id(),
                                     admin=bool(user and user.is_admin))  # else drafts are 404
    moderator = comments.can_moderate(user, view.post.author_id)
    thread = await comments.list_comments(session, view.post.id, viewer_id=viewer_id(), moderator=moderator)
    html = await render_template(
        "site/post.html",
        view=view,
        comments=thread,
        can_edit=posts.can_edit(user, view.post),
        can_moderate=moderator,
        can_delete_comment=lambda comment: comments.can_delete(user, comment, view.post.author_id),
        **context,
    )
    return html, status


@blueprint.get("/posts/<slug>")
async def post(slug: str):
    response = await _post_page(slug)
    await record_visit(slug)  # every visit counts, cached page or not
    return response


@cache_response
async def _post_page(slug: str):
    return await render_post(slug)


@blueprint.get("/tags/<name>")
@cache_response
async def tag(name: str):
    listing = await _list(PostFilter(tag=name))
    if listing.total == 0:
        abort(404, _("No posts are tagged “%(tag)s”.", tag=name))
    return await render_template("site/tag.html", tag=name, listing=listing)


async def _author_page(username: str, tab: str):
    session = get_session()
    profile = await users.get_profile(session, username, viewer())
    followers, following = await users.follow_counts(session, profile.user)
    flt = PostFilter(author=username) if tab == "posts" else PostFilter(favorited_by=username)
    return await render_template(
        "site/user.html", profile=profile, followers=followers, following=following,
        tab=tab, listing=await _list(flt),
    )


@blueprint.get("/users/<username>")
@cache_response
async def user(username: str):
    return await _author_page(username, "posts")


@blueprint.get("/users/<username>/favorites")
@cache_response
async def favorites(username: str):
    return await _author_page(username, "favorites")


@blueprint.get("/feed")
@login_required
async def feed():
    return await render_template("site/feed.html", listing=await _list(PostFilter(feed_of=viewer_id())))


@blueprint.get("/drafts")
@login_required
async def drafts():
    """The signed-in writer's drafts and scheduled posts (nobody else's: not even an admin's list)."""
    limit, offset = page_window()
    listing = await posts.list_posts(get_session(), PostFilter(unpublished_of=viewer_id()), limit=limit,
                                     offset=offset, viewer_id=viewer_id(), with_body=False)
    return await render_template("site/drafts.html", listing=listing)


@blueprint.get("/search")
async def search():
    query = " ".join(request.args.get("q", "").split())[:200]
    listing = await _list(PostFilter(search=query)) if query else None
    return await render_template("site/search.html", query=query, listing=listing)


@blueprint.get("/favicon.ico")
async def favicon():
    """Browsers ask for /favicon.ico whatever the page says: the site's icon, not a 404."""
    return await send_from_directory(current_app.static_folder, "favicon.ico",
                                     mimetype="image/vnd.microsoft.icon", cache_timeout=7 * 24 * 3600)
