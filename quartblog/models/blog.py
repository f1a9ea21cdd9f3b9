"""The blog's tables: users, posts, tags, comments, sign-ins, uploads, settings, the audit log.

Every relationship is ``lazy="raise"``: touching one that was not loaded
explicitly (``selectinload``/``joinedload``) raises instead of doing hidden I/O.
Keys are integers (see docs/architecture.md); slugs and usernames are the
public identifiers.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
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
from sqlalchemy import true as sql_true
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.schema import PrimaryKeyConstraint

from ..text.search import search_text
from ..types import MYSQL_DIALECTS, LongText, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



@compiles(PrimaryKeyConstraint, "mysql")
@compiles(PrimaryKeyConstraint, "mariadb")
def _unnamed_primary_key(constraint: PrimaryKeyConstraint, compiler, **kw) -> str:
    """MySQL/MariaDB call every primary key PRIMARY and warn "Name 'pk_posts' ignored
    for PRIMARY key" on each CREATE TABLE that names one: leave the name out there
    (other databases keep the convention's pk_<table>)."""
    ddl = compiler.visit_primary_key_constraint(constraint, **kw)
    prefix = f"CONSTRAINT {compiler.preparer.format_constraint(constraint)} " if constraint.name else ""
    return ddl[len(prefix):] if prefix and ddl.startswith(prefix) else ddl


# MySQL/MariaDB: InnoDB, 4-byte UTF-8 (emoji), a collation that tells emoji apart.
MYSQL_TABLE_ARGS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_520_ci",
}


# Search (services/search.py): posts.search_text, indexed by FULLTEXT on MySQL/MariaDB
# and by trigrams (pg_trgm, GIN) on PostgreSQL; SQLite reads the column.
FULLTEXT_INDEX = "ix_posts_search_text"
FULLTEXT_DIALECTS = MYSQL_DIALECTS
TRIGRAM_INDEX = "ix_posts_search_text_trgm"
TRIGRAM_DIALECTS = ("postgresql",)
# Compared byte for byte on MySQL/MariaDB (the app folds case), as elsewhere.
SEARCH_TEXT_TYPE = Text().with_variant(mysql.MEDIUMTEXT(collation="utf8mb4_bin"), "mysql", "mariadb")


def _search_text_default(context) -> str:
    """posts.search_text for a row inserted without one (seeding, bulk inserts)."""
    params = context.get_current_parameters()
    return search_text(params.get("title"), params.get("body"))


def string_enum(values: type[enum.Enum], name: str) -> Enum:
    """An enum stored as its values' strings (VARCHAR(16), no native ENUM type: adding a
    value later is no schema change), checked on the way in."""
    return Enum(values, native_enum=False, length=16, validate_strings=True, name=name,
                values_callable=lambda members: [m.value for m in members])


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
    # The tag's place in the post's list, as the author wrote them (0 first).
    Column("position", Integer, nullable=False, server_default="0"),
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
        string_enum(Role, "role"),
        default=Role.AUTHOR,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A disabled account cannot sign in; its sign-ins and API tokens stop working.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    # The language of the mails this person gets ("en", "zh_Hans"); None: the site's default.
    locale: Mapped[str | None] = mapped_column(String(16))
    # When the address in ``email`` was shown to be theirs (a link mailed to it); None: not yet.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Mail me when someone comments on my posts (settings page; the mail's unsubscribe link).
    notify_comments: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_true())

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


class Counter(Base):
    """A number kept on write instead of counted at read (services/counts.py)."""

    __tablename__ = "counters"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class TagCount(Base):
    """How many posts with this tag are published (scheduled ones included), kept on
    write (services/counts.py).  A table of its own, not a column of ``tags``: the
    writers' row locks on it are taken last and in key order, apart from the locks
    that writing a tag name takes."""

    __tablename__ = "tag_counts"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    posts: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class PostStatus(str, enum.Enum):
    """What is stored.  A published post whose ``published_at`` is still ahead is
    *scheduled*: it appears at that time by the lists' condition, nothing runs then."""

    DRAFT = "draft"
    PUBLISHED = "published"


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        # Published posts, newest first, with id as tie-breaker: a covering index for
        # the home page and the article list (``status = 'published' AND published_at
        # <= now``, then a deferred join on it for deep pages).
        Index("ix_posts_status_published_at_id", "status", "published_at", "id"),
        # Posts of an author, newest first (also the foreign key's index on MySQL).
        Index("ix_posts_author_id_published_at", "author_id", "published_at"),
        # Search: each index exists on its databases only (ddl_if; autogenerate skips it
        # elsewhere: migrations.include_object_for).
        Index(FULLTEXT_INDEX, "search_text", mysql_prefix="FULLTEXT").ddl_if(dialect=FULLTEXT_DIALECTS),
        Index(TRIGRAM_INDEX, "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}).ddl_if(dialect=TRIGRAM_DIALECTS),
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
    status: Mapped[PostStatus] = mapped_column(
        string_enum(PostStatus, "post_status"),
        default=PostStatus.PUBLISHED,
        server_default=PostStatus.PUBLISHED.value,
    )
    # UTC; None for a draft.  Lists show posts with status published and published_at <= now.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The normalized words of title and body (services/search.py), written with them;
    # never loaded with the post (deferred, raising if touched unloaded).
    search_text: Mapped[str | None] = mapped_column(
        SEARCH_TEXT_TYPE, default=_search_text_default, deferred=True, deferred_raiseload=True)

    author: Mapped[User] = relationship(back_populates="posts", lazy="raise")
    tags: Mapped[list[Tag]] = relationship(
        secondary=post_tags, lazy="raise", order_by=(post_tags.c.position, Tag.name)
    )
    comments: Mapped[list["Comment"]] = relationship(
        back_populates="post",
        lazy="raise",
        passive_deletes=True,
        order_by="Comment.created_at",
    )

    @property
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
        string_enum(CommentState, "comment_state"),
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


class Upload(Base):
    """An image someone uploaded (a post's picture or their avatar), stored under
    ``name`` (content-addressed: the same bytes uploaded twice share one file) by
    ``quartblog.web.media``'s storage.  The rows say whose files they are (the admin,
    deleting a person's files); a file is deleted with the last row naming it."""

    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_user_id", "user_id"),
        Index("ix_uploads_name", "name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))  # <sha256 hex>.<jpg|png|gif|webp>
    purpose: Mapped[str] = mapped_column(String(16))  # "post" or "avatar"
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)  # bytes stored
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<Upload {self.id} {self.name} of user {self.user_id}>"


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
