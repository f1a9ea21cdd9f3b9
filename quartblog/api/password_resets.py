"""Extension: a way back into a locked account (the site's "Forgot password?").

``POST /api/users/password-reset`` mails a link to the site's /reset-password/<token>
page, and answers the same whether or not an account uses the address;
``POST /api/users/password-reset/confirm`` sets the new password with the link's token
and answers like log-in (the user with a new token).  The rules are
``services.password_resets``' (one hour, once, links per account per hour), shared with
the site; both routes are rate-limited per client address like log-in."""

from __future__ import annotations

from quart import current_app
from quart_schema import document_response, validate_request, validate_response

from ..db import get_session
from ..services import password_resets
from ..web.limits import auth_rate_limit
from ..web.routing import base_url
from . import blueprint
from .schemas import (
    ErrorsResponse,
    PasswordResetAccepted,
    PasswordResetConfirmRequest,
    PasswordResetRequest,
    PasswordResetResponse,
    UserResponse,
)
from .users import user_response


@blueprint.post("/users/password-reset")
@auth_rate_limit
@validate_request(PasswordResetRequest)
@validate_response(PasswordResetResponse, 202)
@document_response(ErrorsResponse, 422)  # a malformed address (it says nothing about accounts)
async def request_password_reset(data: PasswordResetRequest):
    """Extension: mail a link that sets a new password (the same answer whether or not an account uses the address)"""
    config = current_app.config
    await password_resets.request_reset(
        get_session(), data.user.email, secret_key=config["SECRET_KEY"],
        lifetime=config["PASSWORD_RESET_SECONDS"], per_hour=config["PASSWORD_RESETS_PER_HOUR"],
        base_url=base_url())  # the mail in the account's language (users.locale), else the site's
    return PasswordResetResponse(password_reset=PasswordResetAccepted(
        expires_in=int(config["PASSWORD_RESET_SECONDS"]))), 202


@blueprint.post("/users/password-reset/confirm")
@auth_rate_limit
@validate_request(PasswordResetConfirmRequest)
@validate_response(UserResponse)
@document_response(ErrorsResponse, 422)  # token: invalid, used or expired; password: too short ...
async def confirm_password_reset(data: PasswordResetConfirmRequest):
    """Extension: set a new password with a mailed link's token; signs out every browser and revokes every token"""
    user = await password_resets.reset_password(get_session(), data.user.token, data.user.password,
                                                 secret_key=current_app.config["SECRET_KEY"])
    return user_response(user)
