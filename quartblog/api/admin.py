"""Extensions for the admin (role ``admin``; 403 otherwise): users, roles, disabling
and deleting accounts, sending a password reset link.  The same services as the site's admin, so the same rules
(the last admin, nobody disables themself) and the same audit rows."""

from __future__ import annotations

from quart import current_app
from quart_schema import document_response, validate_querystring, validate_request, validate_response

from ..db import get_session
from ..web.media import get_storage
from ..models import User
from ..services import admin, password_resets, users
from ..web.routing import base_url
from . import blueprint
from .auth import token_required
from .schemas import (
    AdminUserOut,
    AdminUserResponse,
    AdminUsersQuery,
    AdminUsersResponse,
    AdminUserUpdateRequest,
    DeleteUserQuery,
    ErrorsResponse,
)


@blueprint.get("/admin/users")
@token_required
@validate_querystring(AdminUsersQuery)
@validate_response(AdminUsersResponse)
@document_response(ErrorsResponse, 403)
async def admin_list_users(query_args: AdminUsersQuery, user: User):
    """Extension (admin): users by name, searched by part of the username or email"""
    admin.require_admin(user)
    listing = await admin.list_users(get_session(), q=query_args.q, limit=query_args.limit,
                                     offset=query_args.offset)
    return AdminUsersResponse(users=[AdminUserOut.of(u) for u in listing.items], users_count=listing.total)


@blueprint.put("/admin/users/<username>")
@token_required
@validate_request(AdminUserUpdateRequest)
@validate_response(AdminUserResponse)
@document_response(ErrorsResponse, 403)
async def admin_update_user(username: str, data: AdminUserUpdateRequest, user: User):
    """Extension (admin): change a user's role, disable or enable their account"""
    admin.require_admin(user)
    session = get_session()
    changes = data.user
    if changes.role is not None:
        await admin.change_role(session, user, username, changes.role)
    if changes.disabled is not None:
        await admin.set_disabled(session, user, username, changes.disabled)
    return AdminUserResponse(user=AdminUserOut.of(await users.get_user_by_username(session, username)))


@blueprint.delete("/admin/users/<username>")
@token_required
@validate_querystring(DeleteUserQuery)
@document_response(ErrorsResponse, 403)
async def admin_delete_user(username: str, query_args: DeleteUserQuery, user: User):
    """Extension (admin): delete an account; ?posts=keep reassigns its posts and comments to 'deleted-user', ?posts=delete deletes them"""
    await admin.delete_user(get_session(), user, username, query_args.posts, storage=get_storage())
    return "", 204


@blueprint.post("/admin/users/<username>/password-reset")
@token_required
@validate_response(AdminUserResponse, 202)
@document_response(ErrorsResponse, 403)
async def admin_send_password_reset(username: str, user: User):
    """Extension (admin): mail a user a link that sets a new password (not to a disabled account: 422)"""
    config = current_app.config
    target = await password_resets.send_link(get_session(), user, username, secret_key=config["SECRET_KEY"],
                                             lifetime=config["PASSWORD_RESET_SECONDS"], base_url=base_url())
    return AdminUserResponse(user=AdminUserOut.of(target)), 202
