"""Links mailed to people: a new password (services/password_resets.py), an address shown
to be theirs (services/verification.py), a subscription to new posts (services/subscriptions.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..types import UTCDateTime, utcnow
from .blog import MYSQL_TABLE_ARGS, Base


class PasswordReset(Base):
    """A password-reset link that was asked for.  The link's token is ``<id>.<secret>``;
    the row keeps the secret's SHA-256 only.  It works once (``used_at``), until
    ``expires_at``, and only while the account's password is the one it was sent for."""

    __tablename__ = "password_resets"
    __table_args__ = (
        Index("ix_password_resets_user_id_created_at", "user_id", "created_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random hex
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<PasswordReset of user {self.user_id}>"


class EmailVerification(Base):
    """A link mailed to ``email`` to show it is the account's: at sign-up (the address the
    account has) or on a change of address (the new one, which the account takes only
    when the link is followed).  Token ``<id>.<secret>``, the secret's SHA-256 kept."""

    __tablename__ = "email_verifications"
    __table_args__ = (
        Index("ix_email_verifications_user_id_created_at", "user_id", "created_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random hex
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<EmailVerification of user {self.user_id}>"


class Subscriber(Base):
    """Someone, with or without an account, who gets new posts by mail: once they followed
    the confirmation link (``confirmed_at``; double opt-in).  Unsubscribing deletes the row."""

    __tablename__ = "subscribers"
    __table_args__ = (
        Index("ix_subscribers_user_id", "user_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<Subscriber {self.id}>"
