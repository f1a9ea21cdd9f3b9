"""The admin's view of background work (Admin → Jobs): how many jobs wait, run, are done,
and the ones parked after their last attempt, with their error and a button to run them
again (services/outbox.py; the jobs themselves run in quartblog/jobs/)."""

from __future__ import annotations

from quart import current_app, flash, redirect, render_template, url_for

from ..db import get_session
from ..config import mail_configured
from ..services import audit, outbox
from ..services.errors import N_
from . import blueprint
from .admin import admin_required
from .i18n import gettext as _, ngettext
from .identity import viewer

# Readable names of the kinds of jobs; an unknown kind shows as it is.
KIND_NAMES = {"mail.password_reset": N_("Password reset link"), "maintenance.cleanup": N_("Clean-up")}


@blueprint.get("/admin/jobs")
@admin_required
async def admin_jobs():
    session = get_session()
    return await render_template(
        "admin/jobs.html", tab="jobs", counts=await outbox.counts(session),
        failed=await outbox.failed_jobs(session), kind_names=KIND_NAMES,
        mail_ready=mail_configured(current_app.config), production=current_app.config["ENV"] == "production")


@blueprint.post("/admin/jobs/<id:job_id>/retry")
@admin_required
async def admin_retry_job(job_id: int):
    session = get_session()
    retried = await outbox.retry_failed(session, job_id)
    if retried:
        await audit.record(session, viewer(), "retry-job", str(job_id))
        await flash(_("The job runs again."), "success")
    return redirect(url_for("site.admin_jobs"), 303)


@blueprint.post("/admin/jobs/retry")
@admin_required
async def admin_retry_jobs():
    session = get_session()
    retried = await outbox.retry_failed(session)
    if retried:
        await audit.record(session, viewer(), "retry-jobs", str(retried))
    await flash(ngettext("%(num)s job runs again.", "%(num)s jobs run again.", retried), "success")
    return redirect(url_for("site.admin_jobs"), 303)
