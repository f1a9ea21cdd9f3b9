"""The schema: SQLAlchemy 2 typed declarative models.

Every relationship is ``lazy="raise"``: touching one that was not loaded
explicitly (``selectinload``/``joinedload``) raises instead of doing hidden I/O.
Keys are integers (see docs/architecture.md); slugs and usernames are the
public identifiers.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy import false as sql_false
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import LongText, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# MySQL/MariaDB: InnoDB, 4-byte UTF-8 (emoji), a collation that tells emoji apart.
MYSQL_TABLE_ARGS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_520_ci",
}


# The full-text index on posts(title, body), on the databases that have one.
FULLTEXT_INDEX = "ix_posts_fulltext"
FULLTEXT_DIALECTS = ("mysql", "mariadb")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(str, enum.Enum):
    ADMIN = "admin"
    AUTHOR = "author"
    READER = "reader"


class CommentState(str, enum.Enum):
    """Shown to everyone; hidden by a moderator; held for approval (services/moderation.py)."""

    PUBLISHED = "published"
    HIDDEN = "hidden"
    PENDING = "pending"


post_tags = Table(
    "post_tags",
    Base.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_post_tags_tag_id_post_id", "tag_id", "post_id"),
    **MYSQL_TABLE_ARGS,
)

follows = Table(
    "follows",
    Base.metadata,
    Column("follower_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("followed_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Index("ix_follows_followed_id", "followed_id"),
    CheckConstraint("follower_id <> followed_id", name="not_self"),
    **MYSQL_TABLE_ARGS,
)

favorites = Table(
    "favorites",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Index("ix_favorites_post_id", "post_id"),
    **MYSQL_TABLE_ARGS,
)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    bio: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(String(500))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            length=16,
            values_callable=lambda roles: [r.value for r in roles],
            validate_strings=True,
            name="role",
        ),
        default=Role.AUTHOR,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A disabled account cannot sign in; its sign-ins and API tokens stop working.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())

    posts: Mapped[list["Post"]] = relationship(back_populates="author", lazy="raise")

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def can_write(self) -> bool:
        return self.role in (Role.ADMIN, Role.AUTHOR)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r} {self.role.value}>"


# Tag names compare code point by code point on every database (the app normalizes
# them first: services.tags.normalize_tag); MySQL/MariaDB need a binary collation
# for that, PostgreSQL and SQLite compare so by default.
TAG_NAME_TYPE = String(64).with_variant(mysql.VARCHAR(64, collation="utf8mb4_bin"), "mysql", "mariadb")


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(TAG_NAME_TYPE, unique=True)

    def __repr__(self) -> str:
        return f"<Tag {self.name!r}>"


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        # Newest first, with id as tie-breaker: a covering index for the home page
        # and the article list (deferred join on it for deep pages).
        Index("ix_posts_created_at_id", "created_at", "id"),
        # Posts of an author, newest first.
        Index("ix_posts_author_id_created_at", "author_id", "created_at"),
        # Search on MySQL/MariaDB: MATCH (title, body) AGAINST (...). Other databases
        # have no such index (ddl_if; autogenerate skips it there: migrations.include_object_for)
        # and search with LIKE.
        Index(FULLTEXT_INDEX, "title", "body", mysql_prefix="FULLTEXT").ddl_if(dialect=FULLTEXT_DIALECTS),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(LongText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    author: Mapped[User] = relationship(back_populates="posts", lazy="raise")
    tags: Mapped[list[Tag]] = relationship(
        secondary=post_tags, lazy="raise", order_by=Tag.name
    )
    comments: Mapped[list["Comment"]] = relationship(
        back_populates="post",
        lazy="raise",
        passive_deletes=True,
        order_by="Comment.created_at",
    )

    @property
    def tag_names(self) -> list[str]:
        return sorted(tag.name for tag in self.tags)

    def __repr__(self) -> str:
        return f"<Post {self.id} {self.slug!r}>"


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_post_id_created_at", "post_id", "created_at"),
        Index("ix_comments_author_id", "author_id"),
        Index("ix_comments_state_id", "state", "id"),  # the moderation queue
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[CommentState] = mapped_column(
        Enum(
            CommentState,
            native_enum=False,
            length=16,
            values_callable=lambda states: [s.value for s in states],
            validate_strings=True,
            name="comment_state",
        ),
        default=CommentState.PUBLISHED,
        server_default=CommentState.PUBLISHED.value,
    )

    post: Mapped[Post] = relationship(back_populates="comments", lazy="raise")
    author: Mapped[User] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"<Comment {self.id} on post {self.post_id}>"


class SignIn(Base):
    """A browser signed in on the site.  Its cookie names the row (``id``) and carries
    a secret whose SHA-256 is ``secret_hash``; deleting the row signs that browser out
    (log-out, a password change), whatever copies of the cookie exist."""

    __tablename__ = "sign_ins"
    __table_args__ = (
        Index("ix_sign_ins_user_id", "user_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random hex
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"<SignIn of user {self.user_id}>"


class Setting(Base):
    """The blog's settings that admins change at run time (key/value, services/settings.py)."""

    __tablename__ = "settings"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))


class AuditEntry(Base):
    """One admin action: who, what, on what, when (services/audit.py).  The actor's
    name is kept, so the row still says who it was after their account is deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_id", "actor_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(String(500), default="")

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.target!r}>"


__all__ = [
    "AuditEntry",
    "CommentState",
    "Setting",
    "Base",
    "Comment",
    "Post",
    "Role",
    "SignIn",
    "Tag",
    "User",
    "favorites",
    "follows",
    "post_tags",
]
