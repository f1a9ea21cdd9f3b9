"""Tags in use."""

from __future__ import annotations

from quart_schema import validate_response

from ..db import get_session
from ..web.response_cache import cache_response
from ..services import tags
from . import blueprint
from .schemas import TagsResponse


@blueprint.get("/tags")
@cache_response
@validate_response(TagsResponse)
async def list_tags():
    """Every tag on at least one article, the most used first (ties by name)"""
    return TagsResponse(tags=await tags.all_tag_names(get_session()))
