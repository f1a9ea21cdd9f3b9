"""``INSERT`` that leaves existing rows alone, on every backend, without an error.

A unique race (two requests creating the same tag, a double-clicked favorite) is
settled by the database: the second insert finds the row and does nothing, with no
IntegrityError to catch and no SAVEPOINT to roll back to.  MySQL/MariaDB spell it
``ON DUPLICATE KEY UPDATE <key> = <key>`` (``INSERT IGNORE`` would also hide other
errors); PostgreSQL and SQLite ``ON CONFLICT (...) DO NOTHING``.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ..types import MYSQL_DIALECTS


async def insert_missing(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]],
                         key: Sequence[str]) -> None:
    """Insert ``rows`` into ``table``, skipping those whose ``key`` columns (a primary
    key or unique constraint) match an existing row."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect in MYSQL_DIALECTS:
        statement = mysql.insert(table)
        statement = statement.on_duplicate_key_update({key[0]: statement.inserted[key[0]]})
    elif dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(key))
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(key))
    # Sorted: concurrent inserts lock the same keys in the same order (no deadlock).
    ordered = sorted(rows, key=lambda row: tuple(row[k] for k in key))
    await session.execute(statement, ordered)
