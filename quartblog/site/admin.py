"""Administration: the list of users, and their roles."""

from __future__ import annotations

from quart import flash, redirect, render_template, request, url_for

from ..db import get_session
from ..models import Role
from ..services import users
from ..services.errors import N_, PermissionDenied, ValidationFailed
from . import blueprint
from .i18n import gettext as _, translate
from .identity import login_required, viewer


ROLE_NAMES = {Role.ADMIN: N_("admin"), Role.AUTHOR: N_("author"), Role.READER: N_("reader")}


def _require_admin() -> None:
    if not viewer().is_admin:
        raise PermissionDenied(N_("only an admin can see this page"))


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
        reasons = "; ".join(translate(message) for message in exc.errors["role"])
        await flash(_("The role of %(name)s was not changed: %(reasons)s.", name=username, reasons=reasons), "error")
    else:
        await flash(_("%(name)s is now %(role)s.", name=user.username, role=_(ROLE_NAMES[user.role])), "success")
    return redirect(url_for("site.admin_users"), 303)
