"""The schema: SQLAlchemy 2 typed declarative models, one module per concern.

* ``blog``      users, posts, tags, comments, sign-ins, uploads, settings, the audit log
* ``accounts``  links mailed to people: password resets, address verification, subscriptions
* ``jobs``      background jobs (the outbox) and mail deliveries

Every relationship is ``lazy="raise"``: touching one that was not loaded
explicitly (``selectinload``/``joinedload``) raises instead of doing hidden I/O.
Keys are integers (see docs/architecture.md); slugs and usernames are the
public identifiers.
"""

from .accounts import EmailVerification, PasswordReset, Subscriber
from .blog import (
    FULLTEXT_DIALECTS,
    FULLTEXT_INDEX,
    MYSQL_TABLE_ARGS,
    NAMING_CONVENTION,
    TRIGRAM_DIALECTS,
    TRIGRAM_INDEX,
    AuditEntry,
    Base,
    Comment,
    CommentState,
    Counter,
    Post,
    PostStatus,
    Role,
    Setting,
    SignIn,
    Tag,
    TagCount,
    Upload,
    User,
    favorites,
    follows,
    post_tags,
)
from .jobs import Job, JobState, MailDelivery

# What the shell puts in its context (quartblog/cli/shell.py).
__all__ = [
    "AuditEntry",
    "Base",
    "Comment",
    "CommentState",
    "Counter",
    "EmailVerification",
    "Job",
    "JobState",
    "MailDelivery",
    "PasswordReset",
    "Post",
    "PostStatus",
    "Role",
    "Setting",
    "Subscriber",
    "SignIn",
    "Tag",
    "TagCount",
    "Upload",
    "User",
    "favorites",
    "follows",
    "post_tags",
]
