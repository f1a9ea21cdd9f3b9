"""The admin's operations: users (search, roles, disable, delete), posts in bulk, tags.

Every operation here takes the acting admin, checks that they are one (and still an
enabled one, under the same locks as the rule it enforces), and writes an audit row
(services/audit.py) in the same transaction.  Lists are offset-paged with two bounded
statements (a count and the page), whatever the page number.

Deleting an account (by an admin, or by its owner from the settings page) either
deletes its posts and comments, or keeps them: they are reassigned to one placeholder
account, ``deleted-user`` (disabled, no usable password, a name nobody can register),
so pages and feeds show "deleted-user" as their author and nothing points at a
missing row.  Favorites, follows and sign-ins of the account go with it.  So do its
uploaded images (``uploads.delete_user_uploads``: the rows at once, the files once the
deletion is committed), except, when the posts are kept, the images uploaded for posts:
the kept posts show them, so they go to the placeholder with the posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable

from sqlalchemy import delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .post_states import HasState, state_condition
from ..types import ID_MAX
from ..models import Comment, Post, PostStatus, Role, Tag, Upload, User, post_tags
from ..types import utcnow
from . import audit, counts, posts as post_service, sign_ins, uploads, users
from .paging import OFFSET_MAX, Page
from .errors import Errors, Message, N_, NotFound, PermissionDenied, ValidationFailed
from .tags import TAG_MAX, normalize_tags
from .upsert import insert_missing

LIMIT_MAX = 100
POSTS_CHOICES = ("keep", "delete")


QUERY_MAX = 255  # characters of an admin list's search (SQLite refuses LIKE patterns of 50 KB)


def _query(text: str) -> str:
    """An admin list's search words; ValidationFailed (``q``) past QUERY_MAX characters."""
    if len(text) > QUERY_MAX:
        raise ValidationFailed.one("q", Message("is too long (maximum is %(maximum)d characters)", maximum=QUERY_MAX))
    return text


def require_admin(actor: User | None) -> User:
    if actor is None or not actor.is_admin or actor.disabled:
        raise PermissionDenied(N_("only an admin can do this"))
    return actor


async def _lock_acting_admin(session: AsyncSession, actor: User) -> set[int]:
    """Lock the admins' rows; the actor must still be an enabled admin (another admin
    may have just demoted or disabled them)."""
    require_admin(actor)
    admin_ids = await users.lock_admins(session)
    if actor.id not in admin_ids:
        raise PermissionDenied(N_("only an admin can do this"))
    return admin_ids


# --- users -------------------------------------------------------------------------

def _bounded(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, LIMIT_MAX)), max(0, min(offset, OFFSET_MAX))


async def list_users(session: AsyncSession, *, q: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Users by name; ``q`` matches part of the username or the email.  Two statements."""
    limit, offset = _bounded(limit, offset)
    condition = []
    if q and q.strip():
        needle = _query(q.strip().lower())
        condition = [or_(func.lower(User.username).contains(needle, autoescape=True),
                         User.email.contains(needle, autoescape=True))]
    total = await session.scalar(select(func.count()).select_from(User).where(*condition))
    items = list(await session.scalars(
        select(User).where(*condition).order_by(User.username, User.id).limit(limit).offset(offset)))
    return Page(items=items, total=int(total or 0), limit=limit, offset=offset)


def _not_placeholder(user: User) -> None:
    if user.username == users.DELETED_USERNAME:
        raise ValidationFailed.one("username", N_("the placeholder of deleted accounts cannot be changed"))


async def change_role(session: AsyncSession, actor: User, username: str, role: str) -> User:
    """``users.change_role`` (the last-admin rule under locks), by an admin, audited."""
    await _lock_acting_admin(session, actor)
    target = await users.get_user_by_username(session, username)
    _not_placeholder(target)
    before = Role(target.role).value
    user = await users.change_role(session, username, role)
    await audit.record(session, actor, "user.role", f"user:{user.username}", f"{before} -> {Role(user.role).value}")
    return user


async def set_disabled(session: AsyncSession, actor: User, username: str, disabled: bool) -> User:
    """Disable an account (it cannot sign in; its sign-ins and tokens stop working) or
    enable it again.  Nobody disables themself, and the last enabled admin stays."""
    admin_ids = await _lock_acting_admin(session, actor)
    target = await users.get_user_by_username(session, username)
    _not_placeholder(target)
    if disabled:
        if target.id == actor.id:
            raise ValidationFailed.one("disabled", N_("you cannot disable your own account"))
        if admin_ids == {target.id}:
            raise ValidationFailed.one("disabled", users.LAST_ADMIN)
    if target.disabled == disabled:
        return target
    target.disabled = disabled
    if disabled:
        await sign_ins.delete_all(session, target.id)
    await session.flush()
    await audit.record(session, actor, "user.disable" if disabled else "user.enable", f"user:{target.username}")
    return target


async def _placeholder_id(session: AsyncSession) -> int:
    await insert_missing(session, User.__table__, [{
        "username": users.DELETED_USERNAME, "email": f"{users.DELETED_USERNAME}@invalid.invalid",
        "password_hash": "!", "role": Role.READER.value, "disabled": True, "created_at": utcnow(),
    }], ["username"])
    return await session.scalar(select(User.id).where(User.username == users.DELETED_USERNAME))


async def _delete_user(session: AsyncSession, storage: Any, target: User, posts: str) -> None:
    if posts not in POSTS_CHOICES:
        raise ValidationFailed.one("posts", N_("must be 'keep' or 'delete'"))
    _not_placeholder(target)
    if posts == "keep":
        placeholder = await _placeholder_id(session)
        await session.execute(update(Post).where(Post.author_id == target.id)
                              .values(author_id=placeholder).execution_options(synchronize_session=False))
        await session.execute(update(Comment).where(Comment.author_id == target.id)
                              .values(author_id=placeholder).execution_options(synchronize_session=False))
        # The kept posts show the images uploaded for them: they stay, the placeholder's.
        await session.execute(update(Upload).where(Upload.user_id == target.id, Upload.purpose == uploads.POST)
                              .values(user_id=placeholder).execution_options(synchronize_session=False))
    else:
        their_posts = list(await session.scalars(select(Post.id).where(Post.author_id == target.id)))
        async with counts.changing(session, their_posts):
            await session.execute(delete(Post).where(Post.author_id == target.id)
                                  .execution_options(synchronize_session=False))
    await uploads.delete_user_uploads(session, storage, target.id)  # files: after the commit
    # Comments, favorites, follows, sign-ins: ON DELETE CASCADE; audit rows keep the name.
    await session.execute(delete(User).where(User.id == target.id).execution_options(synchronize_session=False))
    session.expunge(target)


async def delete_user(session: AsyncSession, actor: User, username: str, posts: str, *,
                      storage: Any) -> None:
    """An admin deletes an account (not their own: that is the settings page's);
    ``storage`` (``media.get_storage()``) holds its uploaded images."""
    admin_ids = await _lock_acting_admin(session, actor)
    target = await users.get_user_by_username(session, username)
    if target.id == actor.id:
        raise ValidationFailed.one("username", N_("delete your own account from your settings"))
    if admin_ids == {target.id}:
        raise ValidationFailed.one("username", users.LAST_ADMIN)
    name = target.username
    await _delete_user(session, storage, target, posts)
    await audit.record(session, actor, "user.delete", f"user:{name}", f"posts: {posts}")


async def delete_own_account(session: AsyncSession, user: User, password: str | None, posts: str, *,
                             storage: Any) -> None:
    """A user deletes their account after typing their password again."""
    if posts not in POSTS_CHOICES:
        raise ValidationFailed.one("posts", N_("must be 'keep' or 'delete'"))
    if not password or not await users.verify_password(user.password_hash, password):
        raise ValidationFailed.one("current_password", N_("is wrong"))
    admin_ids = await users.lock_admins(session)
    if admin_ids == {user.id}:
        raise ValidationFailed.one("current_password", users.LAST_ADMIN)
    await _delete_user(session, storage, user, posts)


# --- posts -------------------------------------------------------------------------

@dataclass
class PostItem(HasState):
    id: int
    slug: str
    title: str
    created_at: datetime
    author: str
    status: str = PostStatus.PUBLISHED.value
    published_at: datetime | None = None


# The admin's post list shows every state, or one of them.
POST_STATES = ("", post_service.DRAFT, post_service.SCHEDULED, post_service.PUBLISHED)


async def list_posts(session: AsyncSession, *, author: str | None = None, tag: str | None = None,
                     q: str | None = None, state: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Posts newest first, filtered by author, tag, words of the title and state
    (``POST_STATES``: all, draft, scheduled, published).  Two statements."""
    limit, offset = _bounded(limit, offset)
    conditions = []
    if state:
        if state not in POST_STATES:
            raise ValidationFailed.one("state", N_("must be draft, published or scheduled"))
        conditions.append(state_condition(state, utcnow()))
    if author:
        conditions.append(User.username == author.strip())
    if tag:
        names = normalize_tags([tag])
        tag_ids = select(Tag.id).where(Tag.name == (names[0] if names else ""))
        conditions.append(Post.id.in_(select(post_tags.c.post_id).where(post_tags.c.tag_id.in_(tag_ids))))
    for word in (q or "").split()[:8]:
        conditions.append(Post.title.icontains(_query(word), autoescape=True))
    base = select(func.count()).select_from(Post).join(User, User.id == Post.author_id).where(*conditions)
    total = await session.scalar(base)
    rows = await session.execute(
        select(Post.id, Post.slug, Post.title, Post.created_at, User.username, Post.status, Post.published_at)
        .join(User, User.id == Post.author_id).where(*conditions)
        .order_by(Post.created_at.desc(), Post.id.desc()).limit(limit).offset(offset))
    return Page(items=[PostItem(*row[:5], status=PostStatus(row.status).value, published_at=row.published_at)
                       for row in rows], total=int(total or 0), limit=limit, offset=offset)


async def _bulk_delete(session: AsyncSession, actor: User, ids: list[int]) -> int:
    slugs = list(await session.scalars(select(Post.slug).where(Post.id.in_(ids)).order_by(Post.id)))
    if slugs:
        async with counts.changing(session, ids):
            await session.execute(delete(Post).where(Post.id.in_(ids)).execution_options(synchronize_session=False))
        for slug in slugs:
            await audit.record(session, actor, "post.delete", f"post:{slug}")
    return len(slugs)


async def _bulk_status(session: AsyncSession, actor: User, ids: list[int], status: PostStatus) -> int:
    """Publish (now; a public post keeps its time) or unpublish (to draft) the chosen
    posts: ``posts.set_status_many`` changes them, one audit row per post it changed."""
    target = post_service.PUBLISHED if status is PostStatus.PUBLISHED else post_service.DRAFT
    rows = (await session.execute(select(Post.id, Post.slug, Post.status, Post.published_at)
                                  .where(Post.id.in_(ids)).order_by(Post.id).with_for_update())).all()
    now = utcnow()
    changing = [(row.slug, post_service.post_state(row.status, row.published_at, now)) for row in rows]
    changing = [(slug, state) for slug, state in changing if state != target]
    done = await post_service.set_status_many(session, ids, status)
    action = "post.publish" if status is PostStatus.PUBLISHED else "post.unpublish"
    for slug, before in changing:
        await audit.record(session, actor, action, f"post:{slug}", f"{before} -> {target}")
    return done


async def _bulk_publish(session: AsyncSession, actor: User, ids: list[int]) -> int:
    return await _bulk_status(session, actor, ids, PostStatus.PUBLISHED)


async def _bulk_unpublish(session: AsyncSession, actor: User, ids: list[int]) -> int:
    return await _bulk_status(session, actor, ids, PostStatus.DRAFT)


# Bulk actions on posts: name -> (label for the admin, function(session, actor, ids) -> posts changed).
BULK_ACTIONS: dict[str, tuple[str, Callable[[AsyncSession, User, list[int]], Awaitable[int]]]] = {
    "publish": (N_("Publish"), _bulk_publish),
    "unpublish": (N_("Unpublish (back to draft)"), _bulk_unpublish),
    "delete": (N_("Delete"), _bulk_delete),
}
BULK_MAX = 100


async def bulk_posts(session: AsyncSession, actor: User, action: str, ids: list[int]) -> int:
    require_admin(actor)
    if action not in BULK_ACTIONS:
        raise ValidationFailed.one("action", N_("is not a known action"))
    ids = sorted({i for i in ids if 0 < i <= ID_MAX})
    if not ids:
        raise ValidationFailed.one("ids", N_("choose at least one post"))
    if len(ids) > BULK_MAX:
        raise ValidationFailed.one("ids", N_("too many posts at once"))
    return await BULK_ACTIONS[action][1](session, actor, ids)


# --- tags --------------------------------------------------------------------------

@dataclass
class TagItem:
    id: int
    name: str
    posts: int


async def list_tags(session: AsyncSession, *, q: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Tags by name with their post counts (unused ones too).  Two statements."""
    limit, offset = _bounded(limit, offset)
    conditions = [Tag.name.contains(_query(q.strip().lower()), autoescape=True)] if q and q.strip() else []
    total = await session.scalar(select(func.count()).select_from(Tag).where(*conditions))
    count = (select(func.count()).select_from(post_tags).where(post_tags.c.tag_id == Tag.id)
             .correlate(Tag).scalar_subquery())
    rows = await session.execute(select(Tag.id, Tag.name, count).where(*conditions)
                                 .order_by(Tag.name).limit(limit).offset(offset))
    return Page(items=[TagItem(*row) for row in rows], total=int(total or 0), limit=limit, offset=offset)


async def _lock_tags(session: AsyncSession, names: list[str]) -> dict[str, Tag]:
    rows = await session.scalars(select(Tag).where(Tag.name.in_(names)).order_by(Tag.id).with_for_update()
                                 .execution_options(populate_existing=True))
    return {tag.name: tag for tag in rows}


def _tag_name(errors: Errors, field: str, raw: str | None) -> str:
    names = normalize_tags([raw or ""], errors)
    if not names and field not in errors.errors:
        errors.add(field, N_("can't be blank"))
    return names[0] if names else ""


async def rename_tag(session: AsyncSession, actor: User, name: str, new_name: str | None) -> Tag:
    """Give a tag another name; a name that another tag has is refused (merge them instead)."""
    require_admin(actor)
    errors = Errors()
    new = _tag_name(errors, "name", new_name)
    errors.errors = {"name" if k == "tagList" else k: v for k, v in errors.errors.items()}
    errors.raise_if_any()
    tags = await _lock_tags(session, sorted({name, new}))
    tag = tags.get(name)
    if tag is None:
        raise NotFound("tag")
    if new == name:
        return tag
    if new in tags:
        raise ValidationFailed.one("name", N_("another tag has this name: merge them instead"))
    tag.name = new
    await session.flush()
    await audit.record(session, actor, "tag.rename", f"tag:{name}", f"-> {new}")
    return tag


async def merge_tags(session: AsyncSession, actor: User, source: str, target: str | None) -> Tag:
    """Every post tagged ``source`` gets ``target`` instead (once), and ``source`` goes."""
    require_admin(actor)
    errors = Errors()
    into = _tag_name(errors, "into", target)
    errors.errors = {"into" if k == "tagList" else k: v for k, v in errors.errors.items()}
    errors.raise_if_any()
    if into == source:
        raise ValidationFailed.one("into", N_("a tag cannot be merged into itself"))
    tags = await _lock_tags(session, sorted({source, into}))
    if source not in tags:
        raise NotFound("tag")
    if into not in tags:
        raise ValidationFailed.one("into", N_("no tag has this name"))
    old, new = tags[source], tags[into]
    post_ids = list(await session.scalars(select(post_tags.c.post_id).where(post_tags.c.tag_id == old.id)))
    async with counts.changing(session, post_ids):
        await insert_missing(session, post_tags, [{"post_id": p, "tag_id": new.id} for p in post_ids],
                             ["post_id", "tag_id"])
        await session.execute(delete(post_tags).where(post_tags.c.tag_id == old.id))
    await session.execute(delete(Tag).where(Tag.id == old.id).execution_options(synchronize_session=False))
    session.expunge(old)
    await audit.record(session, actor, "tag.merge", f"tag:{source}", f"-> {into} ({len(post_ids)} posts)")
    return new


async def delete_unused_tags(session: AsyncSession, actor: User) -> int:
    """Delete the tags no post has."""
    require_admin(actor)
    used = select(literal(1)).where(post_tags.c.tag_id == Tag.id).limit(1).scalar_subquery()
    ids = list(await session.scalars(select(Tag.id).where(used.is_(None)).order_by(Tag.id).with_for_update()))
    if ids:
        await session.execute(delete(Tag).where(Tag.id.in_(ids), ~Tag.id.in_(select(post_tags.c.tag_id)))
                              .execution_options(synchronize_session=False))
    await audit.record(session, actor, "tag.delete_unused", "tags", f"{len(ids)} deleted")
    return len(ids)


__all__ = ["BULK_ACTIONS", "POSTS_CHOICES", "TAG_MAX", "Page"]
