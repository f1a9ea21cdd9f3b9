"""Comments on an article."""

from __future__ import annotations

from quart_schema import validate_request, validate_response

from ..db import get_session
from ..response_cache import cache_response
from ..models import User
from ..services import comments
from . import blueprint
from .auth import token_optional, token_required
from .schemas import CommentOut, CommentResponse, CommentsResponse, NewCommentRequest



@blueprint.get("/articles/<article:slug>/comments")
@token_optional
@cache_response
@validate_response(CommentsResponse)
async def list_comments(slug: str, viewer: User | None):
    """Comments on an article, oldest first"""
    views = await comments.list_comments_for_slug(get_session(), slug, viewer=viewer)
    return CommentsResponse(comments=[CommentOut.of(view) for view in views])


@blueprint.post("/articles/<article:slug>/comments")
@token_required
@validate_request(NewCommentRequest)
@validate_response(CommentResponse)
async def add_comment(slug: str, data: NewCommentRequest, user: User):
    """Comment on an article"""
    view = await comments.add_comment(get_session(), user, slug, data.comment.body)
    return CommentResponse(comment=CommentOut.of(view))


@blueprint.delete("/articles/<article:slug>/comments/<id:comment_id>")
@token_required
async def delete_comment(slug: str, comment_id: int, user: User):
    """Delete a comment (its author or an admin)"""
    await comments.delete_comment(get_session(), user, slug, comment_id)
    return "", 204
