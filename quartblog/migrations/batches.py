"""Data migrations in batches: fill or rewrite the rows of a big table from a revision.

One call walks the table by its primary key (keyset pagination: ``WHERE id > :last
ORDER BY id LIMIT :n``, never OFFSET, never the whole table in memory) and commits each
batch on its own, so whatever the table's size:

* a transaction holds at most ``batch_size`` rows (row locks, undo log, replication lag
  stay small; the app keeps writing between batches),
* the process holds at most one batch (its ids, plus the columns ``compute`` reads),
* progress is printed: rows done / total, the rate, the last id,
* a run that is killed (SIGKILL, a lost connection, a deploy that times out) resumes when
  ``alembic upgrade`` runs again: the ``todo`` predicate says which rows still need the
  change, each row's UPDATE repeats it (``... AND todo``), so a row already done is never
  done twice, and a batch that was not committed is simply done again.

The one rule for the revision's author: **``todo`` must turn false for a row once the
batch has written it** (``new_col IS NULL`` when the batch fills ``new_col``; a version
column; a flag).  That is what makes the batch idempotent and the run resumable.  Put
the data migration in a revision of its own, after the revision that adds the column
(expand): a killed data revision is then rerun alone, and the schema revision before it
is not repeated.

Two ways to say what a batch writes:

SQL (the database computes the value; one UPDATE per batch)::

    from quartblog.migrations.batches import update_in_batches

    posts = sa.table("posts", sa.column("id", sa.Integer), sa.column("body", sa.Text),
                     sa.column("reading_minutes", sa.Integer))

    def upgrade():
        update_in_batches(posts, todo=posts.c.reading_minutes.is_(None),
                          values={"reading_minutes": sa.func.length(posts.c.body) // 1000 + 1})

Python (the batch's rows are read, ``compute`` returns the new values by key; one
UPDATE per row, executed together as one ``executemany``)::

    def reading_minutes(rows):
        return [{"id": r.id, "reading_minutes": len(r.body.split()) // 200 + 1} for r in rows]

    def upgrade():
        update_in_batches(posts, todo=posts.c.reading_minutes.is_(None),
                          columns=[posts.c.body], compute=reading_minutes)

Transactions.  Alembic runs a revision inside a transaction (on PostgreSQL the whole
``upgrade``; on MySQL/MariaDB and SQLite one per revision; or the caller's, when it hands
its own connection to env.py).  The helper commits that transaction first (what the
revision did before the call, and earlier revisions on PostgreSQL, is then committed, as
with Alembic's ``autocommit_block()``), runs every batch in a transaction of its own on
the same connection, and leaves a new transaction open for the rest of the revision.
Unlike ``autocommit_block()`` the batches keep real transactions (a batch's SELECT and
UPDATE, and the rows of an ``executemany``, commit together, once), and it also works
on a connection that the caller had already begun (the app's locked auto-upgrade).

Offline (``--sql``): SQL mode writes one UPDATE of every row still to do (a script has no
batches to commit); Python mode cannot render and raises: give the revision an offline
branch (``if context.is_offline_mode(): ...``) instead.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TextIO

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from ..types import MYSQL_DIALECTS

Compute = Callable[[Sequence[Row]], Iterable[Mapping[str, Any]]]


@dataclass
class Progress:
    """Where a batched run is: printed as it goes, returned at the end."""

    label: str
    total: int  # rows to do when the run started (those already done are not counted)
    done: int = 0  # rows written by this run
    batches: int = 0  # batches committed by this run
    last_key: Any = None  # the key of the last row of the last batch committed
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Rows per second since the start."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        share = f" ({100 * self.done / self.total:.1f}%)" if self.total else ""
        return (f"{self.label}: {self.done}/{self.total} rows{share}, {self.batches} batches, "
                f"{self.rate:.0f} rows/s, {self.elapsed:.1f} s, last id {self.last_key}")


@contextlib.contextmanager
def own_transactions() -> Iterator[Connection]:
    """The migration's connection, outside any transaction, for code that commits itself.

    Commits the transaction the revision is running in (Alembic's, or the caller's when
    env.py was handed a connection already in one), yields the connection, and on the
    way out commits (or, on an error, rolls back) what is left and gives Alembic a new
    transaction for the rest of the revision, as ``autocommit_block()`` does."""
    ctx = op.get_context()
    conn = ctx.connection
    assert conn is not None, "online mode only"
    alembic_transaction = ctx._transaction  # what autocommit_block() commits and restores too
    if alembic_transaction is not None and alembic_transaction.is_active:
        alembic_transaction.commit()
        ctx._transaction = None
    elif conn.in_transaction():
        conn.commit()
    try:
        yield conn
    except BaseException:
        if conn.in_transaction():
            conn.rollback()
        raise
    else:
        if conn.in_transaction():
            conn.commit()
    finally:
        if alembic_transaction is not None:
            ctx._transaction = conn.begin()


def update_in_batches(
    table: sa.TableClause,
    *,
    todo: ColumnElement[bool],
    values: Mapping[str, Any] | None = None,
    compute: Compute | None = None,
    columns: Sequence[sa.ColumnClause] = (),
    key: str = "id",
    batch_size: int = 1000,
    label: str | None = None,
    report_every: float = 1.0,
    out: TextIO | None = None,
    before_commit: Callable[[Progress], None] | None = None,
) -> Progress:
    """Write the rows of ``table`` for which ``todo`` holds, ``batch_size`` at a time.

    ``values``: column name -> value or SQL expression, set on every row (SQL mode; also
    allowed beside ``compute``, e.g. a counter ``n = n + 1``).  ``compute``: called with
    each batch's rows (the key and ``columns``), returns one mapping per row, holding the
    row's ``key`` and its new column values, the same columns for every row (Python
    mode); a row it leaves out stays to do (this run passes it, the next run retries it).
    ``todo`` must be false for a row once it is written (see the module's documentation).

    ``key`` is the table's integer primary key (one column).  Progress goes to ``out``
    (standard output by default) at most every ``report_every`` seconds, and once at the
    end.  ``before_commit`` runs inside each batch's transaction, after its writes (for
    tests that stop a run half-way, and for tools that throttle).  Returns the Progress.
    """
    if values is None and compute is None:
        raise ValueError("say what to write: values=..., compute=..., or both")
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    key_column = table.c[key]
    values = dict(values or {})
    out = out or sys.stdout
    label = label or f"{table.name}: batches"

    ctx = op.get_context()
    if ctx.as_sql:
        if compute is not None:
            raise RuntimeError(f"{label}: a batch computed in Python cannot be rendered offline (--sql); "
                               "give the revision an offline branch (if context.is_offline_mode(): ...)")
        op.execute(table.update().where(todo).values(**values))
        return Progress(label, total=0)

    with own_transactions() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(table).where(todo)).scalar_one()
        conn.commit()
        progress = Progress(label, total=total)
        reported = progress.started
        print(f"{progress.line()} (starting, {batch_size} rows a batch)", file=out, flush=True)
        last = None
        while True:
            keyset = todo if last is None else sa.and_(key_column > last, todo)
            if compute is None:
                ids = conn.execute(sa.select(key_column).where(keyset)
                                   .order_by(key_column).limit(batch_size)).scalars().all()
                if not ids:
                    conn.commit()
                    break
                first, last = ids[0], ids[-1]
                written = conn.execute(table.update().where(key_column >= first, key_column <= last, todo)
                                       .values(**values)).rowcount
            else:
                rows = conn.execute(sa.select(key_column, *columns).where(keyset)
                                    .order_by(key_column).limit(batch_size)).all()
                if not rows:
                    conn.commit()
                    break
                last = rows[-1][0]
                written = _write_computed(conn, table, key_column, todo, values, compute(rows))
            progress.done += max(written, 0)
            progress.last_key = last
            if before_commit is not None:
                before_commit(progress)
            conn.commit()
            progress.batches += 1
            now = time.monotonic()
            if now - reported >= report_every:
                reported = now
                print(progress.line(), file=out, flush=True)
        print(f"{progress.line()} (finished)", file=out, flush=True)
        return progress


def _write_computed(conn: Connection, table: sa.TableClause, key_column: sa.ColumnClause,
                    todo: ColumnElement[bool], values: Mapping[str, Any],
                    changes: Iterable[Mapping[str, Any]]) -> int:
    """Write a batch's computed values: each row's UPDATE repeats ``todo``.

    * PostgreSQL: one UPDATE joined to the values, sent as arrays:
      ``UPDATE t SET c = v.c FROM unnest($1::INTEGER[], $2::TEXT[]) AS v(k, c) WHERE t.id = v.k AND todo``;
    * MySQL/MariaDB: one UPDATE joined to the values, sent as one JSON document:
      ``UPDATE t, (SELECT ... FROM JSON_TABLE(%s, '$[*]' COLUMNS (k INTEGER PATH '$[0]', c TEXT PATH '$[1]')) AS j) AS v
      SET t.c = v.c WHERE t.id = v.k AND todo`` (MariaDB 10.6+, MySQL 8.0+) when every value is a
      JSON value (str, int, float, bool, None); else as SQLite below (an ``executemany`` is a
      round trip per row on the MySQL drivers: some 5 times slower);
    * SQLite (in process, no round trips): ``executemany`` of ``UPDATE t SET c = ? WHERE id = ? AND todo``.

    The values are bound with the table's column types: give the columns of ``table``
    their types (``sa.column("title", sa.String)``)."""
    rows = list(changes)
    if not rows:
        return 0
    names = [name for name in rows[0] if name != key_column.name]
    if any(len(row) != len(names) + 1 for row in rows):
        raise ValueError("compute must return the same columns for every row of a batch")
    keys = [row[key_column.name] for row in rows]
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        arrays = [sa.bindparam("k", keys, type_=ARRAY(key_column.type))]
        arrays += [sa.bindparam(f"c{j}", [row[n] for row in rows], type_=ARRAY(table.c[n].type))
                   for j, n in enumerate(names)]
        new = (sa.func.unnest(*arrays).table_valued("k", *(f"c{j}" for j in range(len(names))))
               .render_derived(name="v"))
    elif dialect in MYSQL_DIALECTS and _json_native(keys, rows, names):
        new = _json_table(conn, table, key_column, names, keys, rows)
    else:
        statement = (table.update().where(key_column == sa.bindparam("_k"), todo)
                     .values(**{n: sa.bindparam(f"_c{j}") for j, n in enumerate(names)}, **values))
        params = [{"_k": key, **{f"_c{j}": row[n] for j, n in enumerate(names)}} for key, row in zip(keys, rows)]
        result = conn.execute(statement, params)
        return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(params)
    statement = (table.update()
                 .where(key_column == new.c.k, todo)
                 .values(**{n: new.c[f"c{j}"] for j, n in enumerate(names)}, **values))
    return conn.execute(statement).rowcount


def _json_native(keys: list[Any], rows: list[Mapping[str, Any]], names: list[str]) -> bool:
    native = (str, int, float, bool, type(None))
    return all(isinstance(k, native) for k in keys) and all(isinstance(r[n], native) for r in rows for n in names)


def _json_table(conn: Connection, table: sa.TableClause, key_column: sa.ColumnClause, names: list[str],
                keys: list[Any], rows: list[Mapping[str, Any]]) -> sa.Subquery:
    """``(SELECT j.k, j.c0 ... FROM JSON_TABLE(:rows, '$[*]' COLUMNS (...)) AS j) AS v``."""
    import json

    def sql_type(column: sa.ColumnClause) -> str:
        type_ = column.type
        if isinstance(type_, sa.String) and not type_.length:
            return "LONGTEXT"
        return type_.compile(dialect=conn.dialect)

    spec = [f"k {sql_type(key_column)} PATH '$[0]'"]
    spec += [f"c{j} {sql_type(table.c[n])} PATH '$[{j + 1}]'" for j, n in enumerate(names)]
    document = json.dumps([[key, *(row[n] for n in names)] for key, row in zip(keys, rows)], ensure_ascii=False)
    source = sa.text(f"JSON_TABLE(:_rows, '$[*]' COLUMNS ({', '.join(spec)})) AS j").bindparams(
        sa.bindparam("_rows", document, type_=sa.Text()))
    picked = [sa.literal_column("j.k", key_column.type).label("k")]
    picked += [sa.literal_column(f"j.c{j}", table.c[n].type).label(f"c{j}") for j, n in enumerate(names)]
    return sa.select(*picked).select_from(source).subquery("v")
