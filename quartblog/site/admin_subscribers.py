"""The admin's subscribers (services/subscriptions.py): the list (searched by address,
paged), removing one (an audit row), and a CSV export that streams page by page."""

from __future__ import annotations

import csv
import io
from typing import AsyncIterator

from quart import Response, current_app, flash, render_template, request, url_for

from ..db import get_db, get_session
from ..services import subscriptions
from . import blueprint
from .admin import PER_PAGE, admin_required
from .helpers import go_back, page_window
from .i18n import gettext as _
from .identity import viewer

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell


@blueprint.get("/admin/subscribers")
@admin_required
async def admin_subscribers():
    limit, offset = page_window(PER_PAGE)
    q = request.args.get("q", "").strip()
    listing = await subscriptions.list_subscribers(get_session(), q=q, limit=limit, offset=offset)
    return await render_template("admin/subscribers.html", listing=listing, q=q, tab="subscribers")


@blueprint.post("/admin/subscribers/<id:subscriber_id>/delete")
@admin_required
async def remove_subscriber(subscriber_id: int):
    email = await subscriptions.remove(get_session(), viewer(), subscriber_id)
    await flash(_("%(email)s is no longer subscribed.", email=email), "success")
    return go_back(url_for("site.admin_subscribers"))


def _cell(value) -> str:
    text = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@blueprint.get("/admin/subscribers.csv")
@admin_required
async def export_subscribers():
    db = get_db(current_app)

    async def lines() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(subscriptions.EXPORT_COLUMNS)
        async for rows in subscriptions.export_pages(db.session):
            writer.writerows([_cell(value) for value in row] for row in rows)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode()

    return Response(lines(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="subscribers.csv"', "Cache-Control": "no-store"})
