"""Account recovery: a link to set a new password, sent by mail (services/password_resets.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
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
