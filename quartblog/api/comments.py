"""Comments on an article."""

from __future__ import annotations

from quart_schema import document_response, validate_request, validate_response

from ..db import get_session
from ..web.response_cache import cache_response
from ..models import User
from ..services import comments, moderation
from . import blueprint
from .auth import token_optional, token_required
from .users import links
from .schemas import CommentOut, CommentResponse, CommentsResponse, ErrorsResponse, NewCommentRequest



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
    view = await comments.add_comment(get_session(), user, slug, data.comment.body, base_url=links().base_url)
    return CommentResponse(comment=CommentOut.of(view))


@blueprint.delete("/articles/<article:slug>/comments/<id:comment_id>")
@token_required
async def delete_comment(slug: str, comment_id: int, user: User):
    """Delete a comment (its author, the article's author or an admin)"""
    await comments.delete_comment(get_session(), user, slug, comment_id)
    return "", 204


def _moderation(action: str, summary: str):
    async def view(slug: str, comment_id: int, user: User):
        comment = await moderation.set_state(get_session(), user, slug, comment_id, action)
        return CommentResponse(comment=CommentOut.of(comment))

    view.__name__ = f"{action}_comment"
    view.__doc__ = summary
    view = document_response(ErrorsResponse, 403)(validate_response(CommentResponse)(view))
    blueprint.post(f"/articles/<article:slug>/comments/<id:comment_id>/{action}")(token_required(view))


_moderation("hide", "Extension: hide a comment from readers (the article's author or an admin)")
_moderation("unhide", "Extension: show a hidden comment again (the article's author or an admin)")
_moderation("approve", "Extension: approve a comment held for approval (the article's author or an admin)")
