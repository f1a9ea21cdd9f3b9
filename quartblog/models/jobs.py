"""Background work: the jobs table (an outbox: a job is written in the transaction of the
change that causes it) and the mail deliveries that make a resumed job skip who was served."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..types import UTCDateTime, utcnow
from .blog import MYSQL_TABLE_ARGS, Base, string_enum


class JobState(str, enum.Enum):
    PENDING = "pending"  # waiting for its run_at (again, after a failed attempt)
    RUNNING = "running"  # claimed by a worker until locked_until
    DONE = "done"
    FAILED = "failed"  # out of attempts: parked for the admin, with its last error


class Job(Base):
    """One piece of background work (quartblog/jobs/): ``kind`` names its handler,
    ``payload`` (JSON) its arguments.  ``key``, when set, makes it unique: a time slot
    of a periodic job, a post's publication."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_run_at", "state", "run_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(String(191), unique=True)
    state: Mapped[JobState] = mapped_column(string_enum(JobState, "job_state"), default=JobState.PENDING,
                                            server_default=JobState.PENDING.value)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.state.value}>"


class MailDelivery(Base):
    """A message handed to the mail server: one row per recipient and message (``key``,
    e.g. ``password-reset:<id>``), written right after the server took it.  A job that
    runs again skips the recipients it finds here: nobody gets the same message twice."""

    __tablename__ = "mail_deliveries"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    key: Mapped[str] = mapped_column(String(191), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<MailDelivery {self.key!r}>"
