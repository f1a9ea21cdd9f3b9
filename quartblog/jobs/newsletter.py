"""Mail to subscribers (services/subscriptions.py, services/new_posts.py).

* ``mail.subscription_confirm``: the double opt-in link.
* ``mail.new_post``: runs at the post's publish time.  If the post is still public with
  that time it fans out into ``mail.new_post_batch`` jobs, one per range of
  ``new_posts.BATCH_SIZE`` confirmed subscribers (keyed: a fan-out that runs again after a
  crash adds nothing), so that every worker can take a share of the send.
* ``mail.new_post_batch``: its range's subscribers who have no delivery yet (one query:
  ``delivered``), over one SMTP connection, each delivery recorded right after the server
  took the message; the lease is extended as it goes (it stops if it lost the claim).  A
  worker killed half-way leaves its batch's lease to run out: the next worker skips who
  was served.  What can repeat is only a message the server took in the moment before its
  delivery was recorded, at most one per batch running at the kill (quartblog/mail/delivery.py),
  sent again with the same Message-ID.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..mail import compose, external_url, open_transport, send_once
from ..mail.delivery import delivered, record
from ..models import Job, Post, PostStatus, Subscriber, User
from ..services import new_posts, outbox, subscriptions
from ..services.errors import N_
from ..types import utcnow
from .runner import JobContext, handler


class NotYetPublic(RuntimeError):
    """The job runs before the post's time (clocks apart): retried later."""


@handler(subscriptions.CONFIRM_KIND)
async def subscription_confirm_mail(context: JobContext, payload: dict[str, Any]) -> None:
    app = context.app
    async with context.sessions() as session:
        subscriber = await session.get(Subscriber, payload.get("subscriber_id"))
    if subscriber is None or subscriber.email != payload.get("email") or subscriber.confirmed_at is not None:
        return  # unsubscribed, or confirmed by an earlier link, before this mail went out
    token = subscriptions.confirm_token(app.config["SECRET_KEY"], subscriber.id, subscriber.email)
    link = external_url(app, "site.confirm_subscription", base_url=payload.get("base_url"), token=token)
    key = f"subscription-confirm:{subscriber.id}:{payload.get('slot')}"

    async def build():
        return await compose(app, to=subscriber.email, template="subscription_confirm",
                             subject=N_("Confirm your subscription to %(site)s"),
                             subject_values={"site": app.config.get("SITE_NAME") or "quartblog"},
                             key=key, locale=subscriber.locale, context={"link": link})

    async with open_transport(app.config, app.instance_path) as transport:
        await send_once(context.sessions, transport, key, build)


async def _public_post(session, payload: dict[str, Any]):
    """The post (id, slug, title, description, author) if it is public at the job's
    publish time, else None (unpublished, deleted, or given another time since)."""
    row = (await session.execute(
        select(Post.id, Post.slug, Post.title, Post.description, Post.status, Post.published_at,
               User.username.label("author"))
        .join(User, User.id == Post.author_id).where(Post.id == payload.get("post_id")))).first()
    when = datetime.fromisoformat(payload["published_at"])
    if row is None or PostStatus(row.status) is not PostStatus.PUBLISHED or row.published_at != when:
        return None
    if when > utcnow():
        raise NotYetPublic(f"post {row.id} is public at {when.isoformat()}")
    return row


def _confirmed():
    return Subscriber.confirmed_at.is_not(None)


@handler(new_posts.KIND)
async def new_post(context: JobContext, payload: dict[str, Any]) -> None:
    """Fan out: one keyed batch job per range of subscribers, all in one transaction."""
    post_id, when = payload.get("post_id"), payload.get("published_at")
    prefix = new_posts.batch_key_prefix(post_id, when)
    async with context.sessions() as session:
        if await _public_post(session, payload) is None:
            return
        if await session.scalar(select(Job.id).where(Job.key.startswith(prefix, autoescape=True)).limit(1)):
            return  # fanned out before a crash: those batches do the rest
        first = 0
        ranges = []
        while True:  # each step: an index range of BATCH_SIZE ids
            start = await session.scalar(select(Subscriber.id).where(_confirmed(), Subscriber.id > first)
                                         .order_by(Subscriber.id).limit(1))
            if start is None:
                break
            end = await session.scalar(select(Subscriber.id).where(_confirmed(), Subscriber.id >= start)
                                       .order_by(Subscriber.id).offset(new_posts.BATCH_SIZE - 1).limit(1))
            if end is None:
                end = await session.scalar(select(Subscriber.id).where(_confirmed()).order_by(Subscriber.id.desc())
                                           .limit(1))
            ranges.append((start, end))
            first = end
        for start, end in ranges:
            await outbox.enqueue(session, new_posts.BATCH_KIND, {**payload, "first": start, "last": end},
                                 key=f"{prefix}{start}")
        await session.commit()


@handler(new_posts.BATCH_KIND)
async def new_post_batch(context: JobContext, payload: dict[str, Any]) -> None:
    app = context.app
    secret = app.config["SECRET_KEY"]
    post_id = int(payload["post_id"])
    async with context.sessions() as session:
        post = await _public_post(session, payload)
        if post is None:
            return
        subscribers = (await session.execute(
            select(Subscriber.id, Subscriber.email, Subscriber.locale)
            .where(_confirmed(), Subscriber.id >= payload["first"], Subscriber.id <= payload["last"])
            .order_by(Subscriber.id))).all()
        done = await delivered(session, [new_posts.delivery_key(post_id, s.id) for s in subscribers])
    waiting = [s for s in subscribers if new_posts.delivery_key(post_id, s.id) not in done]
    if not waiting or not await context.extend_lease():
        return
    link = external_url(app, "site.post", slug=post.slug)
    every = float(app.config.get("JOB_LEASE_SECONDS") or 120) / 4
    extended = time.monotonic()
    async with open_transport(app.config, app.instance_path) as transport, context.sessions() as session:
        for subscriber in waiting:
            if time.monotonic() - extended > every:
                if not await context.extend_lease():
                    return  # our lease ran out and another worker has the batch now
                extended = time.monotonic()
            key = new_posts.delivery_key(post_id, subscriber.id)
            unsubscribe = external_url(app, "site.unsubscribe", token=subscriptions.unsubscribe_token(
                secret, subscriber.id, subscriber.email))
            message = await compose(
                app, to=subscriber.email, template="new_post", subject=N_("New post: %(title)s"),
                subject_values={"title": post.title}, key=key, locale=subscriber.locale,
                unsubscribe_url=unsubscribe,
                context={"title": post.title, "description": post.description, "author": post.author,
                         "link": link})
            await transport.send(message)
            await record(session, key, message)  # right after the server took it
            await session.commit()
    await context.extend_lease()

