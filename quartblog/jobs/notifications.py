"""Mail about one's account and posts: the link that verifies an address, the notice to
an old address that it was replaced, a new comment on one's post.  Each handler reads
what it needs again (the link may be used, the comment deleted, the notifications turned
off since the job was queued) and sends through ``send_once`` (a job run again sends
nothing twice)."""

from __future__ import annotations

import logging
from typing import Any

from ..mail import compose, external_url, mail_configured, open_transport, send_once
from ..models import Comment, CommentState, EmailVerification, Post, User
from ..services import notifications, verification
from ..services.errors import N_
from ..types import utcnow
from .runner import JobContext, handler

log = logging.getLogger("quartblog.jobs")


async def _send(job: JobContext, key: str, **message: Any) -> None:
    app = job.app

    async def build():
        return await compose(app, key=key, **message)

    async with open_transport(app.config, app.instance_path) as transport:
        await send_once(job.sessions, transport, key, build)


def _nowhere_to_send(context: JobContext, kind: str) -> bool:
    """A notice, not a link someone waits for: in production without SMTP it is dropped
    (one log line) rather than parked in the admin's failed jobs."""
    config = context.app.config
    if config.get("ENV") == "production" and not mail_configured(config):
        log.info("job %s (%s) dropped: mail is not configured", context.job_id, kind)
        return True
    return False


@handler(verification.MAIL_KIND)
async def verify_email_mail(context: JobContext, payload: dict[str, Any]) -> None:
    app = context.app
    async with context.sessions() as session:
        row = await session.get(EmailVerification, payload.get("verification_id"))
        user = await session.get(User, row.user_id) if row else None
    if row is None or user is None or row.used_at is not None or row.expires_at <= utcnow():
        return  # followed, voided or expired before the mail went out
    link = external_url(app, "site.verify_email", base_url=payload.get("base_url"),
                        token=verification.token_for(app.config["SECRET_KEY"], row.id))
    change = row.email != user.email
    hours = max(1, int((row.expires_at - row.created_at).total_seconds() // 3600))
    await _send(context, f"verify-email:{row.id}", to=row.email, template="verify_email",
                subject=N_("Confirm your new email address") if change else N_("Verify your email address"),
                locale=payload.get("locale") or user.locale,
                context={"username": user.username, "link": link, "hours": hours, "change": change,
                         "email": row.email})


@handler(verification.CHANGED_KIND)
async def email_changed_mail(context: JobContext, payload: dict[str, Any]) -> None:
    if _nowhere_to_send(context, verification.CHANGED_KIND):
        return
    async with context.sessions() as session:
        user = await session.get(User, payload.get("user_id"))
    if user is None:
        return
    await _send(context, f"email-changed:{context.job_id}", to=payload["old_email"], template="email_changed",
                subject=N_("Your email address was changed"), locale=payload.get("locale") or user.locale,
                context={"username": user.username, "old_email": payload["old_email"],
                         "new_email": payload["new_email"],
                         "recover": external_url(context.app, "site.forgot_password",
                                                 base_url=payload.get("base_url"))})


@handler(notifications.COMMENT_KIND)
async def new_comment_mail(context: JobContext, payload: dict[str, Any]) -> None:
    if _nowhere_to_send(context, notifications.COMMENT_KIND):
        return
    app = context.app
    async with context.sessions() as session:
        comment = await session.get(Comment, payload.get("comment_id"))
        post = await session.get(Post, comment.post_id) if comment else None
        author = await session.get(User, post.author_id) if post else None
        writer = await session.get(User, comment.author_id) if comment else None
    if (comment is None or post is None or author is None or writer is None or author.disabled
            or not author.notify_comments or comment.state == CommentState.HIDDEN):
        return  # deleted, hidden, or the author no longer wants these
    base_url = payload.get("base_url")
    held = comment.state == CommentState.PENDING
    if held and author.is_admin:
        link = external_url(app, "site.admin_comments", base_url=base_url)
    else:  # the post's author approves it on the post's page
        link = external_url(app, "site.post", base_url=base_url, slug=post.slug) + f"#comment-{comment.id}"
    unsubscribe = external_url(app, "site.unsubscribe_comments", base_url=base_url,
                               token=notifications.unsubscribe_token(app.config["SECRET_KEY"], author))
    await _send(context, f"comment:{comment.id}:author", to=author.email, template="new_comment",
                subject=N_("A comment waits for your approval on “%(title)s”") if held
                else N_("New comment on “%(title)s”"),
                subject_values={"title": post.title}, locale=author.locale, unsubscribe_url=unsubscribe,
                context={"username": author.username, "writer": writer.username, "title": post.title,
                         "excerpt": notifications.excerpt(comment.body), "link": link, "held": held})
