"""Stamps written before the revisions were renumbered into chain order.

Until then the chain read ``0007 -> 0011 -> 0008 -> 0010 -> 0009 -> 0012``: the ids were
given in the order the work was started, not the order the revisions were chained.  They
now read ``0001 ... 0013`` top to bottom.  Three ids changed meaning:

=========  ===============================  ==========================================
old stamp  what the database has            new stamp
=========  ===============================  ==========================================
``0011``   uploads                          ``0008`` (uploads)
``0008``   uploads, post status             ``0009`` (post status and publish time)
``0009``   ... search text, moderation      ``0011`` (moderation and admin)
=========  ===============================  ==========================================

Every other id kept its revision (0010, 0012 and 0013 stood where they stand now).  The
three ids are ambiguous on their own, so the schema tells them apart: ``posts.status`` is
what old 0008 added (new 0009), ``users.disabled`` what old 0009 added (new 0011).
``restamp`` runs in env.py before any migration (online), in the migration's own
transaction, so ``alembic upgrade head`` from a database stamped by an older release
continues where it stood.
"""

from __future__ import annotations

import logging

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

log = logging.getLogger("alembic.runtime.migration")

VERSION_TABLE = "alembic_version"


def _has_column(connection: Connection, table: str, column: str) -> bool:
    inspector = inspect(connection)
    if not inspector.has_table(table):
        return False
    return column in {c["name"] for c in inspector.get_columns(table)}


def new_stamp(connection: Connection, stamp: str) -> str:
    """The id, in today's numbering, of the revision the database is at."""
    if stamp == "0008" and _has_column(connection, "posts", "status"):
        return "0009"  # old 0008: post status, which today's 0008 (uploads) precedes
    if stamp == "0009" and _has_column(connection, "users", "disabled"):
        return "0011"  # old 0009: moderation
    if stamp == "0011" and not _has_column(connection, "users", "disabled"):
        return "0008"  # old 0011: uploads, before post status and moderation
    return stamp


def restamp(connection: Connection) -> None:
    """Rewrite an old-numbering stamp in ``alembic_version`` (see the module)."""
    from sqlalchemy import text

    if not inspect(connection).has_table(VERSION_TABLE):
        return
    stamps = [row[0] for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    for stamp in stamps:
        renumbered = new_stamp(connection, stamp)
        if renumbered != stamp:
            connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :new WHERE version_num = :old"),
                               {"new": renumbered, "old": stamp})
            log.info("Stamp %s, written before the renumbering, is revision %s now", stamp, renumbered)
