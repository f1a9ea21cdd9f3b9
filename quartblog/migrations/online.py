"""Online DDL for revisions: schema changes that neither copy a big table nor stop its writers.

Use these instead of ``op.add_column`` / ``op.create_index`` / ``op.drop_index`` /
``op.drop_column`` on a table that already holds rows (docs/migrations.md, "Online DDL")::

    from quartblog.migrations import online

    def upgrade() -> None:
        online.add_column("tags", sa.Column("post_count", sa.Integer(), server_default="0", nullable=False))
        online.create_index("ix_comments_author_id_created_at", "comments", ["author_id", "created_at"])

What each database is asked for:

* **MariaDB/MySQL**: the statement names its algorithm, so the server does that or refuses
  (error 1845/1846, "ALGORITHM=INSTANT is not supported ... Try ALGORITHM=INPLACE"): it never
  falls back to copying the table behind a lock.  ``add_column`` and ``drop_column`` ask for
  ``ALGORITHM=INSTANT`` (a change of the data dictionary only); indexes are built with
  ``ALGORITHM=INPLACE, LOCK=NONE`` (reads and writes go on during the build) and dropped
  with ``ALGORITHM=NOCOPY, LOCK=NONE``.  Pass ``algorithm="INPLACE"`` (with ``LOCK=NONE``)
  when INSTANT is refused; ``lock="SHARED"`` (writes wait) only as a reviewed exception:
  on ``posts``, whose FULLTEXT index rules out both INSTANT and LOCK=NONE on MariaDB 10.11,
  that is the only in-place way (the linter asks for the review).
* **PostgreSQL**: indexes are built and dropped ``CONCURRENTLY``, which cannot run inside a
  transaction: the statement runs in ``op.get_context().autocommit_block()`` (the revisions
  before it are committed first).  A concurrent build that failed leaves an INVALID index
  behind; running the revision again drops it and builds it anew.  Adding a column with a
  constant default and dropping one change the catalog only: plain DDL.
* **SQLite**: the plain statement (one writer, no online DDL to ask for).

Each helper is an Alembic operation of its own (a subclass of the plain one), so the
migration linter (``quartblog/migrations/lint.py``) tells them apart, and ``--sql`` renders them.
"""

from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa
from alembic import op
from alembic.ddl import base as ddl
from alembic.operations import Operations, ops
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex, ExecutableDDLElement

from ..types import MYSQL_DIALECTS

MYSQL = MYSQL_DIALECTS
INDEX_ALGORITHM = "INPLACE"
COLUMN_ALGORITHM = "INSTANT"
PT_OSC = "pt-osc"


class WithOptions(ExecutableDDLElement):
    """A DDL statement followed by options (MariaDB's ``, ALGORITHM=INSTANT``)."""

    inherit_cache = False

    def __init__(self, element: ExecutableDDLElement, options: str) -> None:
        self.element = element
        self.options = options


@compiles(WithOptions)
def _render_with_options(element: WithOptions, compiler, **kw) -> str:
    return compiler.process(element.element, **kw) + element.options


def mysql_options(algorithm: str, lock: str | None, *, separator: str = ", ") -> str:
    """``, ALGORITHM=INSTANT`` / ``, ALGORITHM=INPLACE, LOCK=NONE`` (INSTANT takes no lock
    option: it holds the metadata lock for a moment only)."""
    algorithm = algorithm.upper()
    if lock is None and algorithm != "INSTANT":
        lock = "NONE"
    parts = [f"ALGORITHM={algorithm}"] + ([f"LOCK={lock.upper()}"] if lock else [])
    return separator + separator.join(parts)


def _dialect(operations: Operations) -> str:
    return operations.get_context().dialect.name


class OnlineOp:
    """Marks an operation asked for online (the linter reads ``algorithm`` and ``lock``)."""

    algorithm: str
    lock: str | None
    via: str | None = None  # "pt-osc": MariaDB/MySQL run it through pt-online-schema-change

    @property
    def blocks_writes(self) -> bool:
        """Whether MariaDB was allowed to stop writers (a reviewed exception).  Through
        pt-osc it never is (shadow table, triggers, atomic rename: ``pt_osc.py``)."""
        if self.via == PT_OSC:
            return False
        return self.algorithm.upper() == "COPY" or (self.lock or "NONE").upper() not in ("NONE",)


def _via(via: str | None) -> str | None:
    if via not in (None, PT_OSC):
        raise ValueError(f"via={via!r}: the only tool is {PT_OSC!r}")
    return via


class AddColumnOnlineOp(OnlineOp, ops.AddColumnOp):
    def __init__(self, table_name: str, column: sa.Column, *, algorithm: str = COLUMN_ALGORITHM,
                 lock: str | None = None, via: str | None = None, **kw: Any) -> None:
        super().__init__(table_name, column, **kw)
        self.algorithm, self.lock, self.via = algorithm, lock, _via(via)


class DropColumnOnlineOp(OnlineOp, ops.DropColumnOp):
    def __init__(self, table_name: str, column_name: str, *, algorithm: str = COLUMN_ALGORITHM,
                 lock: str | None = None, via: str | None = None, **kw: Any) -> None:
        super().__init__(table_name, column_name, **kw)
        self.algorithm, self.lock, self.via = algorithm, lock, _via(via)


class CreateIndexOnlineOp(OnlineOp, ops.CreateIndexOp):
    def __init__(self, index_name: str, table_name: str, columns: Sequence[Any], *,
                 algorithm: str = INDEX_ALGORITHM, lock: str | None = None, **kw: Any) -> None:
        super().__init__(index_name, table_name, columns, **kw)
        self.algorithm, self.lock = algorithm, lock


class DropIndexOnlineOp(OnlineOp, ops.DropIndexOp):
    def __init__(self, index_name: str, table_name: str, *, algorithm: str = "NOCOPY",
                 lock: str | None = None, **kw: Any) -> None:
        super().__init__(index_name, table_name, **kw)
        self.algorithm, self.lock = algorithm, lock


# --- what a revision calls ------------------------------------------------------------

def add_column(table_name: str, column: sa.Column, *, algorithm: str = COLUMN_ALGORITHM,
               lock: str | None = None, via: str | None = None) -> None:
    """``op.add_column``, asked to happen without a table copy (MariaDB: INSTANT).
    ``via="pt-osc"``: on MariaDB/MySQL through pt-online-schema-change (a shadow table
    filled in chunks, triggers, an atomic rename: ``pt_osc.py``), for a table MariaDB
    cannot alter in place without blocking writes (``posts``); elsewhere the plain path."""
    op.invoke(AddColumnOnlineOp(table_name, column, algorithm=algorithm, lock=lock, via=via))


def drop_column(table_name: str, column_name: str, *, algorithm: str = COLUMN_ALGORITHM,
                lock: str | None = None, via: str | None = None) -> None:
    """``op.drop_column``, asked to happen without a table copy (MariaDB: INSTANT).
    A contract step: the running release must no longer use the column.  ``via``: as
    ``add_column``."""
    op.invoke(DropColumnOnlineOp(table_name, column_name, algorithm=algorithm, lock=lock, via=via))


def create_index(index_name: str, table_name: str, columns: Sequence[Any], *, unique: bool = False,
                 algorithm: str = INDEX_ALGORITHM, lock: str | None = None, **kw: Any) -> None:
    """``op.create_index``, built while the table is read and written (MariaDB:
    INPLACE, LOCK=NONE; PostgreSQL: CONCURRENTLY, outside the transaction)."""
    op.invoke(CreateIndexOnlineOp(index_name, table_name, columns, unique=unique,
                                  algorithm=algorithm, lock=lock, **kw))


def drop_index(index_name: str, table_name: str, *, algorithm: str = "NOCOPY", lock: str | None = None,
               **kw: Any) -> None:
    """``op.drop_index`` without blocking the table (PostgreSQL: CONCURRENTLY)."""
    op.invoke(DropIndexOnlineOp(index_name, table_name, algorithm=algorithm, lock=lock, **kw))


# --- how each database does it ----------------------------------------------------------

@Operations.implementation_for(AddColumnOnlineOp)
def _add_column(operations: Operations, operation: AddColumnOnlineOp) -> None:
    if _dialect(operations) not in MYSQL:
        operations.invoke(ops.AddColumnOp(operation.table_name, operation.column, schema=operation.schema))
        return
    column = operation.column
    if column.table is not None:
        column = column._copy()
    table = operations.schema_obj.table(operation.table_name, column, schema=operation.schema)
    if operation.via == PT_OSC:
        if column.foreign_keys:
            raise ValueError(f"{operation.table_name}.{column.name}: add the column, then its foreign key")
        _through_pt_osc(operations, operation.table_name, ddl.AddColumn(operation.table_name, column,
                                                                        schema=operation.schema))
        return
    operations.execute(WithOptions(ddl.AddColumn(operation.table_name, column, schema=operation.schema),
                                   mysql_options(operation.algorithm, operation.lock)))
    for constraint in table.constraints:  # as Alembic's add_column: a foreign key of the column
        if not isinstance(constraint, sa.PrimaryKeyConstraint):
            operations.impl.add_constraint(constraint)


@Operations.implementation_for(DropColumnOnlineOp)
def _drop_column(operations: Operations, operation: DropColumnOnlineOp) -> None:
    if _dialect(operations) not in MYSQL:
        operations.invoke(ops.DropColumnOp(operation.table_name, operation.column_name, schema=operation.schema))
        return
    column = sa.Column(operation.column_name, sa.types.NullType())
    operations.schema_obj.table(operation.table_name, column, schema=operation.schema)
    if operation.via == PT_OSC:
        _through_pt_osc(operations, operation.table_name, ddl.DropColumn(operation.table_name, column,
                                                                         schema=operation.schema))
        return
    operations.execute(WithOptions(ddl.DropColumn(operation.table_name, column, schema=operation.schema),
                                   mysql_options(operation.algorithm, operation.lock)))


def _through_pt_osc(operations: Operations, table_name: str, statement: ExecutableDDLElement) -> None:
    """The statement's ``ADD COLUMN ...`` through pt-online-schema-change, after the
    migration's transaction is committed (no metadata lock held on the table while the
    tool swaps it).  Offline (``--sql``): the command to run, as a comment."""
    from . import pt_osc

    clause = pt_osc.alter_clause(str(statement.compile(dialect=operations.impl.dialect)), table_name)
    context = operations.get_context()
    if context.as_sql:
        context.impl.static_output(f"-- run: {pt_osc.TOOL} --alter {clause!r} --execute "
                                   f"--alter-foreign-keys-method {pt_osc.FOREIGN_KEYS_METHOD} D=<database>,t={table_name}")
        return
    from .batches import own_transactions

    with own_transactions() as conn:
        pt_osc.run(conn, table_name, clause)


def _index(operations: Operations, operation: CreateIndexOnlineOp, **dialect_kw: Any) -> sa.Index:
    plain = ops.CreateIndexOp(operation.index_name, operation.table_name, operation.columns,
                              schema=operation.schema, unique=operation.unique, **operation.kw, **dialect_kw)
    return plain.to_index(operations.migration_context)


def _postgresql_invalid_index(operations: Operations, name: str) -> bool:
    """A CONCURRENTLY build that failed half-way left this index INVALID."""
    if operations.get_context().as_sql:
        return False
    return bool(operations.get_bind().execute(sa.text(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid"),
        {"name": name}).first())


@Operations.implementation_for(CreateIndexOnlineOp)
def _create_index(operations: Operations, operation: CreateIndexOnlineOp) -> None:
    dialect = _dialect(operations)
    if dialect in MYSQL:
        operations.execute(WithOptions(CreateIndex(_index(operations, operation)),
                                       mysql_options(operation.algorithm, operation.lock, separator=" ")))
    elif dialect == "postgresql":
        with operations.get_context().autocommit_block():
            if _postgresql_invalid_index(operations, operation.index_name):
                operations.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{operation.index_name}"')
            operations.impl.create_index(_index(operations, operation, postgresql_concurrently=True))
    else:
        operations.impl.create_index(_index(operations, operation))


@Operations.implementation_for(DropIndexOnlineOp)
def _drop_index(operations: Operations, operation: DropIndexOnlineOp) -> None:
    dialect = _dialect(operations)
    if dialect in MYSQL:
        table = operations.impl.dialect.identifier_preparer.quote(operation.table_name)
        name = operations.impl.dialect.identifier_preparer.quote(operation.index_name)
        operations.execute(f"ALTER TABLE {table} DROP INDEX {name}"
                           + mysql_options(operation.algorithm, operation.lock))
    elif dialect == "postgresql":
        with operations.get_context().autocommit_block():
            operations.invoke(ops.DropIndexOp(operation.index_name, operation.table_name, schema=operation.schema,
                                              postgresql_concurrently=True, **operation.kw))
    else:
        operations.invoke(ops.DropIndexOp(operation.index_name, operation.table_name, schema=operation.schema,
                                          **operation.kw))


# --- autogenerate writes the helpers ------------------------------------------------------

_ONLINE = {ops.AddColumnOp: AddColumnOnlineOp, ops.DropColumnOp: DropColumnOnlineOp,
           ops.CreateIndexOp: CreateIndexOnlineOp, ops.DropIndexOp: DropIndexOnlineOp}


def _online_copy(operation: ops.MigrateOperation) -> ops.MigrateOperation:
    online_class = _ONLINE[type(operation)]
    copy = online_class.__new__(online_class)
    copy.__dict__.update(operation.__dict__)
    copy.algorithm = "NOCOPY" if online_class is DropIndexOnlineOp else \
        (INDEX_ALGORITHM if online_class is CreateIndexOnlineOp else COLUMN_ALGORITHM)
    copy.lock = None
    return copy


def use_online_ddl(container: ops.OpContainer) -> None:
    """In an autogenerated script, columns and indexes of tables that already exist are
    added and dropped with these helpers (taken out of their batch: each helper is one
    statement on SQLite too).  New tables keep ``op``: they are empty."""
    created = {o.table_name for o in container.ops if isinstance(o, ops.CreateTableOp)}
    result: list[ops.MigrateOperation] = []
    for operation in container.ops:
        if isinstance(operation, ops.ModifyTableOps) and operation.table_name not in created:
            moved = [_online_copy(o) for o in operation.ops if type(o) in _ONLINE]
            operation.ops = [o for o in operation.ops if type(o) not in _ONLINE]
            if operation.ops:
                result.append(operation)
            result.extend(moved)
        elif type(operation) in _ONLINE and getattr(operation, "table_name", None) not in created:
            result.append(_online_copy(operation))
        else:
            result.append(operation)
    container.ops = result


def _register_renderers() -> None:
    from alembic.autogenerate import renderers

    def renderer(online_class, plain_class, name):
        @renderers.dispatch_for(online_class)
        def render(autogen_context, operation) -> str:
            autogen_context.imports.add("from quartblog.migrations import online")
            plain = plain_class.__new__(plain_class)
            plain.__dict__.update({k: v for k, v in operation.__dict__.items() if k not in ("algorithm", "lock", "via")})
            text = renderers.dispatch(plain)(autogen_context, plain)
            return text.replace(f"{autogen_context.opts['alembic_module_prefix']}{name}(", f"online.{name}(", 1)

    renderer(AddColumnOnlineOp, ops.AddColumnOp, "add_column")
    renderer(DropColumnOnlineOp, ops.DropColumnOp, "drop_column")
    renderer(CreateIndexOnlineOp, ops.CreateIndexOp, "create_index")
    renderer(DropIndexOnlineOp, ops.DropIndexOp, "drop_index")


_register_renderers()
