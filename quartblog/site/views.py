"""Page views: each gets its data from ``quartblog.services`` and renders a template."""

from __future__ import annotations

from quart import current_app, render_template, request

from ..db import get_session
from ..services import posts, tags
from . import blueprint


@blueprint.get("/")
async def index():
    session = get_session()
    per_page = current_app.config["POSTS_PER_PAGE"]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    listing = await posts.list_posts(session, limit=per_page, offset=(page - 1) * per_page)
    sidebar_size = current_app.config["SIDEBAR_SIZE"]
    return await render_template(
        "site/index.html",
        listing=listing,
        recent=await posts.recent_posts(session, sidebar_size),
        popular=await tags.popular_tags(session, sidebar_size),
    )
