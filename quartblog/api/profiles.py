"""Profiles; following and unfollowing."""

from __future__ import annotations

from quart_schema import validate_response

from ..db import get_session
from ..models import User
from ..services import users
from . import blueprint
from .auth import token_optional, token_required
from .schemas import ProfileResponse


@blueprint.get("/profiles/<username>")
@token_optional
@validate_response(ProfileResponse)
async def get_profile(username: str, viewer: User | None):
    """A user's profile"""
    return ProfileResponse.of(await users.get_profile(get_session(), username, viewer))


@blueprint.post("/profiles/<username>/follow")
@token_required
@validate_response(ProfileResponse)
async def follow(username: str, user: User):
    """Follow a user"""
    return ProfileResponse.of(await users.follow(get_session(), user, username))


@blueprint.delete("/profiles/<username>/follow")
@token_required
@validate_response(ProfileResponse)
async def unfollow(username: str, user: User):
    """Stop following a user"""
    return ProfileResponse.of(await users.unfollow(get_session(), user, username))
