"""Administration: the list of users, and their roles."""

from __future__ import annotations

from quart import flash, redirect, render_template, request, url_for

from ..db import get_session
from ..models import Role
from ..services import users
from ..services.errors import PermissionDenied, ValidationFailed
from . import blueprint
from .identity import login_required, viewer


def _require_admin() -> None:
    if not viewer().is_admin:
        raise PermissionDenied("only an admin can see this page")


@blueprint.get("/admin/users")
@login_required
async def admin_users():
    _require_admin()
    return await render_template("admin/users.html", users=await users.list_users(get_session()),
                                 roles=list(Role))


@blueprint.post("/admin/users/<username>/role")
@login_required
async def set_role(username: str):
    role = (await request.form).get("role", "")
    try:
        user = await users.set_role(get_session(), viewer(), username, role)
    except ValidationFailed as exc:
        await flash(f"The role of {username} was not changed: {'; '.join(exc.errors['role'])}.", "error")
    else:
        await flash(f"{user.username} is now {user.role.value}.", "success")
    return redirect(url_for("site.admin_users"), 303)
