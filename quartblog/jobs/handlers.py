"""What each kind of job does.  A handler gets a ``JobContext`` and the job's payload,
runs inside the app context, and must be safe to run again after a crash (mail goes
through ``mail.send_once``).  Periodic work is listed in ``PERIODIC``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_

from ..mail import compose, external_url, open_transport, send_once
from ..models import EmailVerification, Job, JobState, MailDelivery, PasswordReset, SignIn, User
from ..services import password_resets, subscriptions
from ..types import utcnow
from ..services.errors import N_
from .runner import JobContext, handler

CLEANUP = "maintenance.cleanup"
# kind -> seconds between runs: every worker offers each time slot, the jobs table's
# unique key lets one of them have it (quartblog/jobs/worker.py).
PERIODIC = {CLEANUP: 3600}
DONE_JOBS_KEPT = timedelta(days=7)
DELIVERIES_KEPT = timedelta(days=30)
UNCONFIRMED_KEPT = timedelta(days=7)  # subscriptions whose link was not followed


@handler(password_resets.MAIL_KIND)
async def password_reset_mail(context: JobContext, payload: dict[str, Any]) -> None:
    app = context.app
    async with context.sessions() as session:
        reset = await session.get(PasswordReset, payload.get("reset_id"))
        user = await session.get(User, reset.user_id) if reset else None
    if reset is None or user is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return  # used, expired or voided by a password change before the mail went out
    link = external_url(app, "site.reset_password", base_url=payload.get("base_url"),
                        token=password_resets.token_for(app.config["SECRET_KEY"], reset.id))
    minutes = int((reset.expires_at - reset.created_at).total_seconds() // 60)

    async def build():
        return await compose(app, to=user.email, template="password_reset", subject=N_("Reset your password"),
                             key=f"password-reset:{reset.id}", locale=payload.get("locale") or user.locale,
                             context={"username": user.username, "link": link, "minutes": minutes})

    async with open_transport(app.config, app.instance_path) as transport:
        await send_once(context.sessions, transport, f"password-reset:{reset.id}", build)


@handler(CLEANUP)
async def cleanup(context: JobContext, payload: dict[str, Any]) -> None:
    """Forget what no one can use any more: used or expired reset and verification links,
    sign-ins older than the longest cookie, jobs done a week ago, delivery records of a month
    ago, subscriptions not confirmed within a week."""
    now = utcnow()
    cookie_life = timedelta(seconds=int(context.app.config.get("QUART_AUTH_DURATION", 365 * 24 * 3600)))
    async with context.sessions() as session:
        await session.execute(delete(PasswordReset).where(
            or_(PasswordReset.used_at.is_not(None), PasswordReset.expires_at < now)))
        await session.execute(delete(EmailVerification).where(  # a day later: they count for the hourly limit
            EmailVerification.created_at < now - timedelta(days=1),
            or_(EmailVerification.used_at.is_not(None), EmailVerification.expires_at < now)))
        await session.execute(delete(SignIn).where(SignIn.created_at < now - cookie_life))
        await session.execute(delete(Job).where(Job.state == JobState.DONE, Job.finished_at < now - DONE_JOBS_KEPT))
        await session.execute(delete(MailDelivery).where(MailDelivery.sent_at < now - DELIVERIES_KEPT))
        await subscriptions.forget_unconfirmed(session, now - UNCONFIRMED_KEPT)
        await session.commit()
