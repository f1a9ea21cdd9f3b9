"""The migration linter: operations that lock or rewrite a big table, or break the release
still running, are refused unless the revision marks them as reviewed.

It reads what each revision's ``upgrade()`` does without a database: the function runs
against a recording ``Operations`` (every ``op.*`` call, batch ones included, and the
helpers of ``online.py`` become Alembic operation objects, kept instead of executed),
once per dialect (SQLite, MySQL/MariaDB, PostgreSQL: revisions branch on it), in
Alembic's online mode, so a data migration takes the path it takes in production;
``op.get_bind()`` gives a connection that records each statement and returns no rows.

The rules (docs/migrations.md, "The linter"):

``not-null``         a NOT NULL column added without a server default (the ALTER fails on
                     a table with rows, or the old release's INSERTs do), or an existing
                     column made NOT NULL (a scan of the whole table under a lock; a copy
                     on MySQL)
``type-change``      a column's type (or collation) changed: a table copy on MySQL, a
                     rewrite under ACCESS EXCLUSIVE on PostgreSQL for most changes
``rename-column``    the release still running reads and writes the old name
``drop-column``      the release still running selects it (SQLAlchemy names every mapped
                     column): drop it one release after the code stopped using it
``drop-table``, ``rename-table``  the same, for a table
``column-not-online``  a column added or dropped with ``op`` instead of ``online``:
                     MariaDB silently copies the table when it cannot do it in place
``index-not-online`` an index built or dropped with ``op`` instead of ``online``: locks
                     writes for the whole build on PostgreSQL (no CONCURRENTLY), may copy
                     on MariaDB
``add-constraint``   a foreign key, unique or check constraint added to an existing table:
                     checked against every row under a lock (MariaDB copies the table for
                     a foreign key; PostgreSQL scans it with writes blocked)
``blocking-ddl``     an ``online`` helper allowed to block (``lock="SHARED"``, COPY)
``raw-ddl``          ``op.execute`` of DDL: the linter cannot read it
``data-with-schema`` rows read or written in a revision that also changes the schema: a
                     long data step inside a DDL revision (and on MySQL, whose DDL commits,
                     a half-done revision); put the data in a revision of its own

Tables created in the same revision are new and empty: nothing on them is flagged.

History: the revisions up to ``BASELINE`` (0011, the head when the linter came) were
written before it and have run on every deployed database; they are not rewritten. Their
findings are still reported (``quart db lint --all``), as reviewed with the reason
``HISTORY``; every later revision must pass.

Marking a reviewed operation: the revision module holds ``reviewed``, a dict from the
finding's key (printed by the linter: ``"<rule> <table>.<column or index>"``) to the reason
it is safe.  A key that matches nothing is itself an error, so marks do not outlive their
operation.  ``downgrade()`` is linted like ``upgrade()``: it runs against a serving
release too (the way back of a deployment); its findings' keys end in ``(downgrade)``
(``"drop-table counters (downgrade)"``; ``"data-with-schema downgrade"``), so a mark for
one function never excuses the other.  An operation ``online.add_column(..., via="pt-osc")``
is not ``blocking-ddl`` whatever its ``lock``: MariaDB runs it through
pt-online-schema-change (``pt_osc.py``).
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field, replace
from types import ModuleType, SimpleNamespace
from typing import Any, Iterable, Iterator

from alembic.operations import BatchOperations, Operations, ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.sql.dml import UpdateBase

from . import online

DIALECTS = ("sqlite", "mysql", "postgresql")
BASELINE = "0011"
HISTORY = f"history: written before the linter (baseline {BASELINE}), already applied everywhere"

RULES = {
    "not-null": "a NOT NULL column without a server default, or a column made NOT NULL "
                "(fails on existing rows or scans/copies the table under a lock)",
    "type-change": "a column type or collation change (MySQL copies the table; PostgreSQL rewrites it locked)",
    "rename-column": "a column renamed: the running release still uses the old name",
    "drop-column": "a column dropped: the running release still selects it (contract it a release later)",
    "drop-table": "a table dropped: the running release still uses it",
    "rename-table": "a table renamed: the running release still uses the old name",
    "column-not-online": "a column added or dropped with op instead of online (MariaDB may copy the table)",
    "index-not-online": "an index built or dropped with op instead of online "
                        "(no CONCURRENTLY on PostgreSQL, no LOCK=NONE on MariaDB)",
    "add-constraint": "a foreign key, unique or check constraint added to an existing table "
                      "(validated against every row under a lock; MariaDB copies the table for a foreign key)",
    "blocking-ddl": "an online helper allowed to block writes (lock other than NONE, or COPY)",
    "raw-ddl": "DDL in op.execute: the linter cannot check it",
    "data-with-schema": "a data migration in a revision that also changes the schema",
}

_DML = re.compile(r"^\s*(WITH\b.*?\)\s*)?(UPDATE|INSERT|DELETE|REPLACE|MERGE|SELECT)\b", re.I | re.S)


FUNCTIONS = ("upgrade", "downgrade")


class LintError(RuntimeError):
    """A revision's upgrade() or downgrade() could not be read."""


@dataclass(frozen=True)
class Finding:
    revision: str
    rule: str
    target: str
    reviewed: str | None = None  # the revision's reason, when it marks the finding
    function: str = "upgrade"  # or "downgrade"

    @property
    def key(self) -> str:
        key = f"{self.rule} {self.target}"
        return key if self.function == "upgrade" or self.target == self.function else f"{key} ({self.function})"

    def __str__(self) -> str:
        state = f"reviewed: {self.reviewed}" if self.reviewed else RULES.get(self.rule, "")
        return f"{self.revision}: {self.key} ({state})"


@dataclass
class Recording:
    """What one ``upgrade()`` (or ``downgrade()``) did on one dialect."""

    operations: list[ops.MigrateOperation] = field(default_factory=list)
    statements: list[Any] = field(default_factory=list)  # through op.get_bind()


class _NoRows:
    """A result with no rows: a data migration's read loop ends at once."""

    rowcount = 0
    lastrowid = None
    inserted_primary_key = None

    def __iter__(self):
        return iter(())

    def __getattr__(self, name: str):
        if name in ("all", "fetchall", "fetchmany"):
            return lambda *a, **k: []
        if name in ("first", "fetchone", "scalar", "one_or_none", "scalar_one_or_none"):
            return lambda *a, **k: None
        if name in ("scalars", "mappings", "tuples", "unique", "columns", "partitions"):
            return lambda *a, **k: self
        raise AttributeError(name)


class _RecordingBind:
    """``op.get_bind()`` while linting: records statements, returns no rows."""

    def __init__(self, recording: Recording, context: MigrationContext) -> None:
        self._recording = recording
        self.dialect = context.dialect

    def execute(self, statement, *args, **kwargs):
        self._recording.statements.append(statement)
        return _NoRows()

    def exec_driver_sql(self, statement, *args, **kwargs):
        return self.execute(statement)

    def scalars(self, statement, *args, **kwargs):
        self._recording.statements.append(statement)
        return _NoRows()

    def scalar(self, statement, *args, **kwargs):
        self._recording.statements.append(statement)
        return None

    def in_transaction(self) -> bool:
        return False

    @contextlib.contextmanager
    def begin(self):  # a batched data migration commits per batch: nothing to do here
        yield self

    begin_nested = begin

    def __getattr__(self, name: str):
        """Anything else a data migration calls (commit, rollback ...): a no-op."""
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: _NoRows()


class _RecordingBatch(BatchOperations):
    def __init__(self, parent: Operations, table_name: str, schema: str | None) -> None:
        super().__init__(parent.migration_context, impl=SimpleNamespace(table_name=table_name, schema=schema))
        self._parent = parent

    def invoke(self, operation):
        return self._parent.invoke(operation)


def _recording_operations(context: MigrationContext, recording: Recording) -> Operations:
    """Alembic's ``Operations`` whose ``invoke`` keeps the operation instead of running it
    (instance attributes: ``op``'s module proxy is installed for the ``Operations`` class)."""
    operations = Operations(context)
    bind = _RecordingBind(recording, context)

    def invoke(operation):
        recording.operations.append(operation)

    @contextlib.contextmanager
    def batch_alter_table(table_name: str, schema: str | None = None, **kw) -> Iterator[BatchOperations]:
        yield _RecordingBatch(operations, table_name, schema)

    operations.invoke = invoke  # type: ignore[method-assign]
    operations.get_bind = lambda: bind  # type: ignore[method-assign]
    operations.batch_alter_table = batch_alter_table  # type: ignore[method-assign]
    return operations


def record(module: ModuleType, dialect: str, function: str = "upgrade") -> Recording:
    """Run ``module.upgrade()`` (or ``function``) against recording operations for ``dialect``."""
    from quartblog.migrations import alembic_config

    recording = Recording()
    context = MigrationContext.configure(dialect_name=dialect, opts={"as_sql": True, "output_buffer": io.StringIO()})
    config = alembic_config()
    environment = EnvironmentContext(config, ScriptDirectory.from_config(config))  # context.is_offline_mode(): False
    operations = _recording_operations(context, recording)
    with environment:
        operations._install_proxy()
        try:
            getattr(module, function)()
        except Exception as exc:
            raise LintError(
                f"cannot lint revision {getattr(module, 'revision', module.__name__)} {function}() ({dialect}): "
                f"{type(exc).__name__}: {exc}. The linter runs {function}() without a database (op.get_bind() "
                "returns no rows); read the database in a data-only revision, or through op.get_bind().execute()"
            ) from exc
        finally:
            operations._remove_proxy()
    return recording


def _is_data(statement: Any) -> bool:
    if isinstance(statement, UpdateBase):
        return True
    return bool(_DML.match(str(statement)))


def _column_target(table: str, column: str) -> str:
    return f"{table}.{column}"


def findings_of(recording: Recording, function: str = "upgrade") -> list[tuple[str, str]]:
    """(rule, target) for each unsafe operation of one recording."""
    found: list[tuple[str, str]] = []
    new_tables: set[str] = set()
    schema_changed = False
    data = bool(recording.statements)
    for operation in recording.operations:
        if isinstance(operation, ops.BulkInsertOp):
            data = True
            continue
        if isinstance(operation, ops.ExecuteSQLOp):
            if _is_data(operation.sqltext):
                data = True
            else:
                schema_changed = True
                found.append(("raw-ddl", " ".join(str(operation.sqltext).split())[:60]))
            continue
        schema_changed = True
        table = getattr(operation, "table_name", None) or getattr(operation, "source_table", None)
        if isinstance(operation, ops.CreateTableOp):
            new_tables.add(operation.table_name)
            continue
        if table in new_tables:
            continue
        if isinstance(operation, online.OnlineOp) and operation.blocks_writes:
            name = getattr(operation, "index_name", None) or getattr(operation, "column_name", None) \
                or operation.column.name
            found.append(("blocking-ddl", f"{table}.{name}"))
        if isinstance(operation, ops.AddColumnOp):
            column = operation.column
            if not column.nullable and column.server_default is None and not column.primary_key:
                found.append(("not-null", _column_target(table, column.name)))
            if not isinstance(operation, online.OnlineOp):
                found.append(("column-not-online", _column_target(table, column.name)))
            if column.foreign_keys:  # added with the column: MariaDB copies the table for it
                found.append(("add-constraint", _column_target(table, column.name)))
        elif isinstance(operation, ops.DropColumnOp):
            found.append(("drop-column", _column_target(table, operation.column_name)))
            if not isinstance(operation, online.OnlineOp):
                found.append(("column-not-online", _column_target(table, operation.column_name)))
        elif isinstance(operation, ops.AlterColumnOp):
            target = _column_target(table, operation.column_name)
            if operation.modify_nullable is False:
                found.append(("not-null", target))
            if operation.modify_type is not None:
                found.append(("type-change", target))
            if operation.modify_name is not None:
                found.append(("rename-column", target))
        elif isinstance(operation, (ops.CreateIndexOp, ops.DropIndexOp)):
            if not isinstance(operation, online.OnlineOp):
                found.append(("index-not-online", f"{table}.{operation.index_name}"))
        elif isinstance(operation, (ops.CreateForeignKeyOp, ops.CreateUniqueConstraintOp,
                                    ops.CreateCheckConstraintOp)):
            found.append(("add-constraint", f"{table}.{operation.constraint_name}"))
        elif isinstance(operation, ops.DropTableOp):
            found.append(("drop-table", operation.table_name))
        elif isinstance(operation, ops.RenameTableOp):
            found.append(("rename-table", operation.table_name))
    if data and schema_changed:
        found.append(("data-with-schema", function))
    return found


def _created(recording: Recording) -> set[tuple[str, str]]:
    """The drops that undo what an upgrade() created: a downgrade dropping the upgrade's own
    table or column takes away nothing the release it returns to uses."""
    undone: set[tuple[str, str]] = set()
    for operation in recording.operations:
        if isinstance(operation, ops.CreateTableOp):
            undone.add(("drop-table", operation.table_name))
        elif isinstance(operation, ops.AddColumnOp):
            undone.add(("drop-column", _column_target(operation.table_name, operation.column.name)))
        elif isinstance(operation, ops.ModifyTableOps):
            undone |= {("drop-column", _column_target(operation.table_name, op.column.name))
                       for op in operation.ops if isinstance(op, ops.AddColumnOp)}
    return undone


def lint_module(module: ModuleType, dialects: Iterable[str] = DIALECTS, history: bool = False) -> list[Finding]:
    """Every finding of one revision (on any dialect), each with its reason when reviewed;
    a ``reviewed`` key that matches no finding is reported as rule ``stale-review``.
    ``history``: a revision before the baseline, all of it reviewed as ``HISTORY``."""
    revision = getattr(module, "revision", module.__name__)
    reviewed: dict[str, str] = dict(getattr(module, "reviewed", None) or {})
    keys: dict[tuple[str, str, str], None] = {}
    for function in FUNCTIONS:
        if not callable(getattr(module, function, None)):
            continue
        for dialect in dialects:
            recording = record(module, dialect, function)
            undone = _created(record(module, dialect, "upgrade")) if function == "downgrade" else set()
            for rule, target in findings_of(recording, function):
                if (rule, target) not in undone:
                    keys.setdefault((function, rule, target))
    findings = [Finding(revision, rule, target, function=function) for function, rule, target in keys]
    findings = [replace(f, reviewed=reviewed.get(f.key) or (HISTORY if history else None)) for f in findings]
    matched = {finding.key for finding in findings}
    findings += [Finding(revision, "stale-review", key) for key in reviewed if key not in matched]
    return findings


def lint_scripts(script: ScriptDirectory | None = None) -> list[Finding]:
    """Every finding of every revision, oldest first."""
    if script is None:
        from quartblog.migrations import alembic_config

        script = ScriptDirectory.from_config(alembic_config())
    history = {r.revision for r in script.iterate_revisions(BASELINE, "base")} \
        if BASELINE in {r.revision for r in script.walk_revisions()} else set()
    findings: list[Finding] = []
    for revision in reversed(list(script.walk_revisions())):
        findings += lint_module(revision.module, history=revision.revision in history)
    return findings


def problems(findings: Iterable[Finding]) -> list[Finding]:
    """The findings not marked as reviewed."""
    return [finding for finding in findings if not finding.reviewed]


def report(unreviewed: list[Finding]) -> str:
    """What to tell the person who wrote the revision."""
    lines = ["The migration linter refuses these operations (docs/migrations.md, \"The linter\"):"]
    by_revision: dict[str, list[Finding]] = {}
    for finding in unreviewed:
        by_revision.setdefault(finding.revision, []).append(finding)
    for revision, found in by_revision.items():
        lines.append("")
        for finding in found:
            why = "a reviewed key that matches no operation: remove it" if finding.rule == "stale-review" \
                else RULES[finding.rule]
            lines.append(f"  {revision}: {finding.key}: {why}")
        marks = [f for f in found if f.rule != "stale-review"]
        if marks:
            lines.append(f"  Make it safe (online.py, expand/contract), or if it is safe, mark it in revision {revision}:")
            lines.append("      reviewed = {")
            lines.extend(f'          "{f.key}": "<why it is safe>",' for f in marks)
            lines.append("      }")
    return "\n".join(lines)
