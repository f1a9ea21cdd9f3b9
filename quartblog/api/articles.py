"""Articles (the blog's posts): lists, the feed, reading, writing, favorites."""

from __future__ import annotations

from quart_schema import validate_querystring, validate_request, validate_response

from ..db import get_session
from ..web.response_cache import cache_response
from ..models import User
from ..services import posts
from ..services.posts import PostFilter
from . import blueprint
from .auth import token_optional, token_required
from .schemas import (
    ArticleFilters,
    ArticleResponse,
    ArticlesResponse,
    ArticleSummary,
    NewArticle,
    NewArticleRequest,
    Page,
    UpdateArticle,
    UpdateArticleRequest,
)


def _uses_extension(article: NewArticle | UpdateArticle) -> bool:
    """Did the request use quartblog's status/publishAt?  Then the answer carries them."""
    return bool({"status", "publish_at"} & article.model_fields_set)


async def _articles(flt: PostFilter, page: Page, viewer: User | None) -> ArticlesResponse:
    """A page of articles, newest first, without bodies: three statements."""
    listing = await posts.list_posts(get_session(), flt, limit=page.limit, offset=page.offset,
                                     viewer_id=viewer.id if viewer else None, with_body=False)
    return ArticlesResponse(articles=[ArticleSummary.of(view, viewer) for view in listing.items],
                            articles_count=listing.total)


@blueprint.get("/articles")
@token_optional
@cache_response
@validate_querystring(ArticleFilters)
@validate_response(ArticlesResponse)
async def list_articles(query_args: ArticleFilters, viewer: User | None):
    """Recent articles, filtered by tag, author or a user's favorites (and, a quartblog extension, by words: q)"""
    search = " ".join((query_args.q or "").split()) or None
    flt = PostFilter(tag=query_args.tag, author=query_args.author, favorited_by=query_args.favorited,
                     search=search)
    return await _articles(flt, query_args, viewer)


@blueprint.get("/articles/feed")
@token_required
@cache_response
@validate_querystring(Page)
@validate_response(ArticlesResponse)
async def feed(query_args: Page, user: User):
    """Recent articles by the users the current user follows"""
    return await _articles(PostFilter(feed_of=user.id), query_args, user)


@blueprint.get("/user/drafts")
@token_required
@validate_querystring(Page)
@validate_response(ArticlesResponse)
async def drafts(query_args: Page, user: User):
    """quartblog extension: the current user's drafts and scheduled articles, most recently changed first"""
    return await _articles(PostFilter(unpublished_of=user.id), query_args, user)


@blueprint.post("/articles")
@token_required
@validate_request(NewArticleRequest)
@validate_response(ArticleResponse, 201)
async def create_article(data: NewArticleRequest, user: User):
    """Write an article"""
    new = data.article
    view = await posts.create_post(get_session(), user, title=new.title, description=new.description,
                                   body=new.body, tags=new.tag_list, status=new.status,
                                   publish_at=new.publish_at)
    return ArticleResponse.of(view, user, extended=_uses_extension(new)), 201


@blueprint.get("/articles/<article:slug>")
@token_optional
@cache_response
@validate_response(ArticleResponse)
async def get_article(slug: str, viewer: User | None):
    """An article (a draft or a scheduled one: only for its author and admins, else 404)"""
    view = await posts.get_post_view(get_session(), slug, viewer_id=viewer.id if viewer else None,
                                     admin=bool(viewer and viewer.is_admin))
    return ArticleResponse.of(view, viewer)


@blueprint.put("/articles/<article:slug>")
@token_required
@validate_request(UpdateArticleRequest)
@validate_response(ArticleResponse)
async def update_article(slug: str, data: UpdateArticleRequest, user: User):
    """Change an article (its author or an admin); the slug stays the same"""
    change = data.article
    view = await posts.update_post(get_session(), user, slug, title=change.title,
                                   description=change.description, body=change.body,
                                   tags=change.tag_list, status=change.status,
                                   publish_at=change.publish_at)
    return ArticleResponse.of(view, user, extended=_uses_extension(change))


@blueprint.delete("/articles/<article:slug>")
@token_required
async def delete_article(slug: str, user: User):
    """Delete an article (its author or an admin)"""
    await posts.delete_post(get_session(), user, slug)
    return "", 204


@blueprint.post("/articles/<article:slug>/favorite")
@token_required
@validate_response(ArticleResponse)
async def favorite(slug: str, user: User):
    """Favorite an article"""
    return ArticleResponse.of(await posts.favorite(get_session(), user, slug), user)


@blueprint.delete("/articles/<article:slug>/favorite")
@token_required
@validate_response(ArticleResponse)
async def unfavorite(slug: str, user: User):
    """Stop favoriting an article"""
    return ArticleResponse.of(await posts.unfavorite(get_session(), user, slug), user)
