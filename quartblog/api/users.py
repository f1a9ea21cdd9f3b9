"""Registration, log-in and the current user."""

from __future__ import annotations

from quart import current_app
from quart_schema import document_response, validate_request, validate_response

from ..db import get_session
from ..models import User
from ..services import users, verification
from ..services.errors import ValidationFailed
from . import blueprint
from .auth import InvalidCredentials, create_token, token_required
from ..web.limits import auth_rate_limit
from ..web.routing import base_url
from .schemas import ErrorsResponse, LoginUserRequest, NewUserRequest, UpdateUserRequest, UserResponse


def user_response(user: User) -> UserResponse:
    return UserResponse.of(user, create_token(user))


@blueprint.post("/users")
@auth_rate_limit
@validate_request(NewUserRequest)
@validate_response(UserResponse, 201)
async def register(data: NewUserRequest):
    """Register a new user"""
    new = data.user
    user = await users.register(get_session(), username=new.username, email=new.email,
                                password=new.password, default_role=current_app.config["DEFAULT_ROLE"])
    await verification.registered(get_session(), user, links())  # unless the blog does not verify
    return user_response(user), 201


@blueprint.post("/users/login")
@auth_rate_limit
@validate_request(LoginUserRequest)
@validate_response(UserResponse)
@document_response(ErrorsResponse, 401)  # a wrong email or password
async def login(data: LoginUserRequest):
    """Log in with email and password"""
    user = await users.authenticate(get_session(), data.user.email, data.user.password)
    if user is None:
        raise InvalidCredentials("wrong email or password")
    return user_response(user)


@blueprint.get("/user")
@token_required
@validate_response(UserResponse)
async def current_user(user: User):
    """The current user, with a fresh token"""
    return user_response(user)


@blueprint.put("/user")
@token_required
@validate_request(UpdateUserRequest)
@validate_response(UserResponse)
async def update_current_user(data: UpdateUserRequest, user: User):
    """Change the current user's email, username, password, bio or image (and, a quartblog
    extension, notifyComments). With email verification on, a new email takes effect once
    the link mailed to it is followed: the answer still has the old one."""
    session = get_session()
    changes = data.user.changes()
    email = changes.pop("email", None)
    errors: dict[str, list[str]] = {}
    try:
        await users.update_user(session, user, **changes)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if email is not None:
        try:
            await verification.change_email(session, user, email, links())
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return user_response(user)


def links() -> verification.Links:
    """Links in mails point at SITE_URL, else at the host this request came to (web/routing.py)."""
    return verification.Links.of(current_app.config, base_url())
