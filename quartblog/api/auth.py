"""API tokens: ``Authorization: Token <jwt>``, a JWT (HS256, pinned) signed with the secret key.

``token_required`` and ``token_optional`` load the token's user (one statement)
and pass it to the view as ``user`` (a ``User``) or ``viewer`` (``User | None``).
A missing, malformed, forged or expired token (or one whose user is gone) is a 401
where a token is required; where it is optional the request is answered as for an
anonymous visitor, so a front end holding a stale token still shows the articles.
A token carries a fingerprint of its user's credentials (``fp``, from the password
hash): after a password change, every token issued before it is a 401.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any, Callable

import jwt
from quart import current_app, request
from quart_schema import security_scheme
from werkzeug.exceptions import Unauthorized

from ..types import ID_MAX
from ..db import get_session
from ..models import User
from ..services import users

ALGORITHM = "HS256"
SCHEMES = ("token", "bearer")  # the contract says Token; many clients send Bearer


class InvalidCredentials(Unauthorized):
    """Log-in with a wrong email or password."""

    errors = {"email or password": ["is invalid"]}


def create_token(user: User, *, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    expires = now + timedelta(seconds=current_app.config["JWT_EXPIRES_SECONDS"])
    claims = {"sub": str(user.id), "fp": users.credentials_fingerprint(user), "iat": now, "exp": expires}
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm=ALGORITHM)


def _claims(token: str) -> tuple[int, str]:
    """The token's user id and credentials fingerprint."""
    try:
        claims = jwt.decode(token, current_app.config["SECRET_KEY"], algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp", "fp"]})
        return int(claims["sub"]), str(claims["fp"])
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token has expired") from None
    except (jwt.InvalidTokenError, ValueError):
        raise Unauthorized("token is invalid") from None


async def _token_user(*, required: bool) -> User | None:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        if required:
            raise Unauthorized("missing Authorization header (Token <jwt>)")
        return None
    try:
        return await _header_user(header)
    except Unauthorized:
        if required:
            raise
        return None  # optional: a bad token reads as no token


async def _header_user(header: str) -> User:
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in SCHEMES or not token.strip():
        raise Unauthorized("Authorization header must be 'Token <jwt>'")
    user_id, fingerprint = _claims(token.strip())
    user = await users.get_user(get_session(), user_id) if 0 < user_id <= ID_MAX else None
    if user is None:
        raise Unauthorized("token is invalid")
    if user.disabled:
        raise Unauthorized("this account is disabled")
    if not hmac.compare_digest(fingerprint, users.credentials_fingerprint(user)):
        raise Unauthorized("token was revoked by a password change: log in again")
    return user


def token_required(view: Callable) -> Callable:
    """The view gets ``user``: the token's user (401 without a valid token)."""

    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any):
        return await view(*args, user=await _token_user(required=True), **kwargs)

    return security_scheme([{"Token": []}])(wrapper)


def token_optional(view: Callable) -> Callable:
    """The view gets ``viewer``: the token's user, or None without a valid token."""

    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any):
        return await view(*args, viewer=await _token_user(required=False), **kwargs)

    return security_scheme([{"Token": []}, {}])(wrapper)
