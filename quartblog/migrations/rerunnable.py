"""Schema operations that a revision can run again: for MySQL/MariaDB, where DDL is not
transactional.

On PostgreSQL (and SQLite, where quartblog's engine sends BEGIN itself: db.py) a revision
runs in a transaction: when its third operation fails, the first two are rolled back
with it, and ``alembic upgrade head`` after the fix starts from a clean slate.  MySQL and
MariaDB commit each ALTER TABLE / CREATE INDEX as it runs; the revision's version is
written only at its end.  When the third operation fails, the first two stay, the
version still names the previous revision, and the same command run again after the fix
starts the revision from its first operation: ``ADD COLUMN`` of a column that is already
there fails ("Duplicate column name"), and the database is stuck half-way until someone
repairs it by hand.

The operations below look before they act (the database's catalog, through SQLAlchemy's
inspector, on every backend), so a revision written with them completes when it is run
again, whatever point the failed run reached::

    from quartblog.migrations import rerunnable

    def upgrade():
        rerunnable.add_column("posts", sa.Column("summary", sa.Text(), nullable=True))
        rerunnable.create_index("ix_posts_summary", "posts", ["summary"])

    def downgrade():
        rerunnable.drop_index("ix_posts_summary", table_name="posts")
        rerunnable.drop_column("posts", "summary")

Each function takes the arguments of the ``op`` function of the same name (extra keyword
arguments are passed on, e.g. ``mysql_prefix="FULLTEXT"``) and returns whether it did
anything.  ``has_column``/``has_index``/``has_table`` are there for operations of your own
(an online-DDL statement, a constraint).  Data steps are made re-runnable by their own
predicate (``UPDATE ... WHERE new_col IS NULL``; ``batches.update_in_batches``).

Offline (``--sql``) there is no catalog to read: the operation is written unconditionally
(the script runs once, in order).
"""

from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa
from alembic import op


def _inspector() -> sa.Inspector | None:
    if op.get_context().as_sql:
        return None
    return sa.inspect(op.get_bind())  # a new inspector each time: no stale cache


def has_table(table_name: str, schema: str | None = None) -> bool:
    inspector = _inspector()
    return inspector is None or inspector.has_table(table_name, schema=schema)


def has_column(table_name: str, column_name: str, schema: str | None = None) -> bool:
    inspector = _inspector()
    if inspector is None:
        return False
    return any(c["name"] == column_name for c in inspector.get_columns(table_name, schema=schema))


def has_index(table_name: str, index_name: str, schema: str | None = None) -> bool:
    inspector = _inspector()
    if inspector is None:
        return False
    names = {i["name"] for i in inspector.get_indexes(table_name, schema=schema)}
    # A UNIQUE constraint is an index on MySQL/MariaDB, a constraint elsewhere.
    names |= {u["name"] for u in inspector.get_unique_constraints(table_name, schema=schema)}
    return index_name in names


def add_column(table_name: str, column: sa.Column, **kw: Any) -> bool:
    if not op.get_context().as_sql and has_column(table_name, column.name, schema=kw.get("schema")):
        return False
    op.add_column(table_name, column, **kw)
    return True


def drop_column(table_name: str, column_name: str, **kw: Any) -> bool:
    if not op.get_context().as_sql and not has_column(table_name, column_name, schema=kw.get("schema")):
        return False
    op.drop_column(table_name, column_name, **kw)
    return True


def create_index(index_name: str, table_name: str, columns: Sequence[str | sa.ColumnElement], **kw: Any) -> bool:
    if not op.get_context().as_sql and has_index(table_name, index_name, schema=kw.get("schema")):
        return False
    op.create_index(index_name, table_name, columns, **kw)
    return True


def drop_index(index_name: str, table_name: str, **kw: Any) -> bool:
    if not op.get_context().as_sql and not has_index(table_name, index_name, schema=kw.get("schema")):
        return False
    op.drop_index(index_name, table_name=table_name, **kw)
    return True


def create_table(table_name: str, *columns: sa.SchemaItem, **kw: Any) -> bool:
    if not op.get_context().as_sql and has_table(table_name, schema=kw.get("schema")):
        return False
    op.create_table(table_name, *columns, **kw)
    return True


def drop_table(table_name: str, **kw: Any) -> bool:
    if not op.get_context().as_sql and not has_table(table_name, schema=kw.get("schema")):
        return False
    op.drop_table(table_name, **kw)
    return True
