"""Accounts, profiles, follows and roles."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, exists, false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ..models import PasswordReset, Role, User, follows
from ..types import utcnow
from . import sign_ins
from .text import check_text
from .errors import Errors, Message, N_, NotFound, PermissionDenied, ValidationFailed
from .upsert import insert_missing

USERNAME_RE = re.compile(r"^[\w.-]+$")  # \w is Unicode: letters and digits of any script
USERNAME_MAX = 64
EMAIL_MAX = 255
PASSWORD_MIN = 8
PASSWORD_MAX = 256
BIO_MAX = 5000
IMAGE_MAX = 500
# The placeholder that keeps the posts of deleted accounts (services/admin.py); nobody may take the name.
DELETED_USERNAME = "deleted-user"


# --- passwords: argon2id, hashed in a worker thread (CPU-heavy, ~50 ms) ---------

@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher().hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher().verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def credentials_fingerprint(user: User) -> str:
    """Changes whenever the password does: API tokens carry it (quartblog/api/auth.py),
    so a password change revokes every token issued before it."""
    return hashlib.sha256(b"quartblog-credentials:" + user.password_hash.encode()).hexdigest()[:22]


# --- validation ------------------------------------------------------------------

def _check_username(errors: Errors, username: str | None) -> str | None:
    if username is None or not username.strip():
        errors.add("username", N_("can't be blank"))
        return None
    username = username.strip()
    if len(username) > USERNAME_MAX:
        errors.add("username", Message("is too long (maximum is %(maximum)d characters)", maximum=USERNAME_MAX))
    elif not check_text(errors, "username", username):
        pass
    elif not USERNAME_RE.fullmatch(username):
        errors.add("username", N_("may contain only letters, digits, '.', '-' and '_'"))
    elif username.lower() == DELETED_USERNAME:
        errors.add("username", N_("has already been taken"))
    return username


def check_email(errors: Errors, email: str | None) -> str | None:
    if email is None or not email.strip():
        errors.add("email", N_("can't be blank"))
        return None
    email = email.strip()
    if len(email) > EMAIL_MAX:
        errors.add("email", Message("is too long (maximum is %(maximum)d characters)", maximum=EMAIL_MAX))
        return email
    try:
        valid = validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        errors.add("email", N_("is invalid"))
        return email
    return valid.normalized.lower()


def _check_password(errors: Errors, password: str | None) -> str | None:
    if password is None or password == "":
        errors.add("password", N_("can't be blank"))
        return None
    if len(password) < PASSWORD_MIN:
        errors.add("password", Message("is too short (minimum is %(minimum)d characters)", minimum=PASSWORD_MIN))
    elif len(password) > PASSWORD_MAX:
        errors.add("password", Message("is too long (maximum is %(maximum)d characters)", maximum=PASSWORD_MAX))
    return password


def _check_optional(errors: Errors, field: str, value: str | None, maximum: int, *,
                    multiline: bool = False) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > maximum:
        errors.add(field, Message("is too long (maximum is %(maximum)d characters)", maximum=maximum))
    else:
        check_text(errors, field, value, multiline=multiline)
    return value or None


async def _check_taken(session: AsyncSession, errors: Errors, *, username: str | None,
                       email: str | None, exclude_id: int | None = None) -> None:
    """Usernames and emails are unique regardless of case, on every database."""
    checks = []
    if username and "username" not in errors.errors:
        checks.append(("username", func.lower(User.username) == username.lower()))
    if email and "email" not in errors.errors:
        checks.append(("email", User.email == email.lower()))  # stored lower-case
    for field, condition in checks:
        query = select(exists().where(condition, *([User.id != exclude_id] if exclude_id else [])))
        if await session.scalar(query):
            errors.add(field, N_("has already been taken"))


async def email_taken(session: AsyncSession, email: str, *, exclude_id: int | None = None) -> bool:
    """Does another account use this (normalized) address?"""
    errors = Errors()
    await _check_taken(session, errors, username=None, email=email, exclude_id=exclude_id)
    return bool(errors.errors)


# --- accounts ----------------------------------------------------------------------

async def register(session: AsyncSession, *, username: str | None, email: str | None,
                   password: str | None, role: Role | None = None,
                   default_role: str | Role = Role.AUTHOR) -> User:
    errors = Errors()
    username = _check_username(errors, username)
    email = check_email(errors, email)
    password = _check_password(errors, password)
    await _check_taken(session, errors, username=username, email=email)
    errors.raise_if_any()
    assert username and email and password
    user = User(
        username=username,
        email=email,
        password_hash=await hash_password(password),
        role=role or Role(default_role),
    )
    await flush_unique(session, user)
    return user


async def flush_unique(session: AsyncSession, user: User) -> None:
    """Flush in a savepoint; a unique-key race with another request becomes a 422."""
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        message = str(exc.orig).lower()
        field = "email" if "email" in message else "username"
        raise ValidationFailed.one(field, N_("has already been taken")) from exc


async def authenticate(session: AsyncSession, email: str | None, password: str | None) -> User | None:
    """The user with this email and password, or None.  ValidationFailed for an email that
    holds control characters: no account has one (and PostgreSQL cannot even compare NUL)."""
    if not email or not password:
        return None
    errors = Errors()
    check_text(errors, "email", email)
    errors.raise_if_any()
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        await hash_password(password)  # same cost either way: no user enumeration by timing
        return None
    if not await verify_password(user.password_hash, password):
        return None
    if user.disabled:
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    return user


async def set_locale(session: AsyncSession, user: User, locale: str | None) -> None:
    """The language of the person's mails (the one they sign in with).  No page shows it,
    so cached pages stay valid (``changes_content=False``): a log-in invalidates nothing."""
    await session.execute(update(User).where(User.id == user.id).values(locale=locale)
                          .execution_options(changes_content=False))
    set_committed_value(user, "locale", locale)


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_username(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("user")
    return user


async def update_user(session: AsyncSession, user: User, *, username: str | None = None,
                      email: str | None = None, password: str | None = None,
                      bio: str | None = None, image: str | None = None,
                      notify_comments: bool | None = None) -> User:
    """Change the given fields (None leaves a field alone; "" clears bio and image).
    The address changes at once here: services/verification.py decides when to call it so."""
    errors = Errors()
    new_username = _check_username(errors, username) if username is not None else None
    new_email = check_email(errors, email) if email is not None else None
    new_password = _check_password(errors, password) if password is not None else None
    new_bio = _check_optional(errors, "bio", bio, BIO_MAX, multiline=True)
    new_image = _check_optional(errors, "image", image, IMAGE_MAX)
    if new_image and not re.match(r"^https?://", new_image, re.I):
        errors.add("image", N_("must be an http(s) URL"))
    await _check_taken(
        session, errors,
        username=new_username if new_username != user.username else None,
        email=new_email if new_email != user.email else None,
        exclude_id=user.id,
    )
    errors.raise_if_any()
    if new_username is not None:
        user.username = new_username
    if new_email is not None and new_email != user.email:
        user.email = new_email
        user.email_verified_at = None  # nobody has shown the new address to be theirs
    if new_password is not None:
        user.password_hash = await hash_password(new_password)  # revokes API tokens (fingerprint)
        await sign_ins.delete_all(session, user.id)  # signs out every browser
        # and voids every other "forgot password" link (the one being used is marked used)
        await session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id,
                                                          PasswordReset.used_at.is_(None)))
    if bio is not None:
        user.bio = new_bio
    if image is not None:
        user.image = new_image
    if notify_comments is not None:
        user.notify_comments = notify_comments
    await flush_unique(session, user)
    return user


LAST_ADMIN = N_("the last admin cannot step down: make someone else an admin first")


async def lock_admins(session: AsyncSession) -> set[int]:
    """The ids of the enabled admins, their rows locked (``FOR UPDATE``, in id order) until
    the transaction ends: every rule about "the blog keeps an admin" reads them so."""
    rows = await session.execute(
        select(User.id, User.disabled).where(User.role == Role.ADMIN).order_by(User.id).with_for_update())
    return {user_id for user_id, disabled in rows if not disabled}


async def change_role(session: AsyncSession, username: str, role: Role | str) -> User:
    """Give a user a role; the blog always keeps at least one admin.

    The admins' rows are locked (``FOR UPDATE``) before they are counted, so two
    admins demoting each other at the same moment are serialized: the second one
    counts again after the first has committed, and is refused.  (SQLite has no row
    locks: its writers are serialized by ``BEGIN IMMEDIATE``.)"""
    try:
        role = Role(role)
    except ValueError:
        raise ValidationFailed.one("role", N_("is not a known role")) from None
    admin_ids = await lock_admins(session)
    user = await get_user_by_username(session, username)
    if role != Role.ADMIN and admin_ids == {user.id}:
        raise ValidationFailed.one("role", LAST_ADMIN)
    user.role = role
    await session.flush()
    return user


# --- profiles and follows --------------------------------------------------------------

@dataclass
class Profile:
    user: User
    following: bool


def following_expr(viewer_id, followed_id_column):
    """SQL: does the viewer (an id, or a bind parameter) follow the user in
    ``followed_id_column``? (False when anonymous: ``viewer_id`` None.)"""
    if viewer_id is None:
        return false()
    return exists().where(follows.c.follower_id == viewer_id, follows.c.followed_id == followed_id_column)


async def get_profile(session: AsyncSession, username: str, viewer: User | None) -> Profile:
    row = (await session.execute(
        select(User, following_expr(viewer.id if viewer else None, User.id))
        .where(User.username == username)
    )).first()
    if row is None:
        raise NotFound("profile")
    return Profile(user=row[0], following=bool(row[1]))


async def follow(session: AsyncSession, follower: User, username: str) -> Profile:
    user = await get_user_by_username(session, username)
    if user.id == follower.id:
        raise ValidationFailed.one("profile", N_("you cannot follow yourself"))
    # Followed twice at once: the second insert finds the first one's row and does nothing.
    await insert_missing(session, follows, [{"follower_id": follower.id, "followed_id": user.id,
                                             "created_at": utcnow()}], ["follower_id", "followed_id"])
    return Profile(user=user, following=True)


async def unfollow(session: AsyncSession, follower: User, username: str) -> Profile:
    user = await get_user_by_username(session, username)
    await session.execute(delete(follows).where(
        follows.c.follower_id == follower.id, follows.c.followed_id == user.id))
    return Profile(user=user, following=False)


async def follow_counts(session: AsyncSession, user: User) -> tuple[int, int]:
    """(followers, following) of a user, in one statement."""
    followers = select(func.count()).select_from(follows).where(follows.c.followed_id == user.id)
    following = select(func.count()).select_from(follows).where(follows.c.follower_id == user.id)
    row = (await session.execute(select(followers.scalar_subquery(), following.scalar_subquery()))).one()
    return int(row[0]), int(row[1])
